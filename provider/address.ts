// Where the provider lives: its source address for required_providers, its version, and the
// repository it runs from (the wrapper and the install command point at dist/ there).

import * as fs from 'node:fs';
import * as path from 'node:path';

export const PROVIDER_HOST = 'joinery.local';
export const PROVIDER_NAMESPACE = 'joinery';
export const PROVIDER_TYPE = 'teleport';
export const PROVIDER_SOURCE = `${PROVIDER_HOST}/${PROVIDER_NAMESPACE}/${PROVIDER_TYPE}`;
export const EXECUTABLE_NAME = 'terraform-provider-teleport';

/** The repository root: the nearest directory above this file with Joinery's package.json. */
export function repoRoot(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg) && JSON.parse(fs.readFileSync(pkg, 'utf8')).name === 'joinery') return dir;
    if (path.dirname(dir) === dir) throw new Error(`cannot find Joinery's package.json above ${__dirname}`);
  }
}

export function providerVersion(): string {
  return JSON.parse(fs.readFileSync(path.join(repoRoot(), 'package.json'), 'utf8')).version;
}
