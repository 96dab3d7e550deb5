// docs/agent.md stays true: every configuration key and its flag are in the reference table, and
// the example configuration is accepted as written.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from '../../cli/args';
import { AGENT_FLAGS, CONFIG_KEYS, loadAgentConfig } from '../../cli/agent/config';

const doc = fs.readFileSync(path.join(__dirname, '..', '..', 'docs', 'agent.md'), 'utf8');

test('the reference table has a row for every key, with its flag', () => {
  for (const [key, flag] of Object.entries(CONFIG_KEYS)) {
    const row = doc.split('\n').find((l) => l.startsWith(`| \`${key}\` |`));
    expect(row).toBeDefined();
    if (flag) expect(row).toContain(`\`${flag}\``);
  }
  // ...and every agent flag is documented somewhere.
  for (const flag of Object.keys(AGENT_FLAGS)) expect(doc).toContain(`--${flag}`);
});

test('the example configuration loads as written', () => {
  const example = /```yaml\n([\s\S]+?)```/.exec(doc)![1];
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-doc-')), 'joinery.yaml');
  fs.writeFileSync(file, example);
  expect(loadAgentConfig(parseArgs(['--config', file], AGENT_FLAGS))).toEqual({
    authServer: 'auth.example.com:3025',
    caPin: expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
    caFile: undefined,
    insecure: false,
    dataDir: '/var/lib/joinery',
    tokenName: 'ec2-token',
    method: 'ec2',
    role: 'Node',
    onRenew: 'systemctl reload my-service',
    rotateKeys: true,
  });
});
