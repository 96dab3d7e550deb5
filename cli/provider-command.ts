// `joinery provider install`: the command around cli/provider-install.ts, which does the work.

import type { Parsed } from './args';
import { str } from './common';

export async function providerInstall(p: Parsed): Promise<number> {
  // Loaded on use: only this command needs the provider code.
  const { installProvider } = await import('./provider-install');
  const r = await installProvider({ pluginDir: str(p, 'plugin-dir') });
  process.stdout.write(`installed ${r.source} ${r.version}:\n${r.paths.map((x: string) => `  ${x}`).join('\n')}\n\nUse it with:\n\n${r.requiredProvidersBlock}\n`);
  return 0;
}
