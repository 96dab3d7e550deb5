// The cached tools of scripts/install-cdk-tools.sh (jsii, pacmak, docgen, Node 22, the cdktn line,
// a Python venv with cdktf), installed on first use.

import { execFileSync } from 'child_process';
import * as os from 'os';
import * as path from 'path';
import { REPO_ROOT } from '../support/server';

export const CDK_TOOLS = process.env.JOINERY_CDK_TOOLS || path.join(os.homedir(), '.cache', 'joinery', 'cdk-tools');
export const NODE22 = path.join(CDK_TOOLS, 'node22', 'bin', 'node');

export function installCdkTools(): void {
  execFileSync(path.join(REPO_ROOT, 'scripts', 'install-cdk-tools.sh'), { stdio: 'inherit', timeout: 900_000 });
}
