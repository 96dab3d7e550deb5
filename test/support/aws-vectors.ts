// Where the captured AWS-signed instance identity documents live: beside the repository
// (../shared/aws), or where JOINERY_AWS_VECTORS points (a git worktree elsewhere).

import * as path from 'node:path';

export const VECTORS_FILE = process.env.JOINERY_AWS_VECTORS || path.join(path.resolve(__dirname, '..', '..'), '..', 'shared', 'aws', 'iid-rsa2048-vectors.json');
