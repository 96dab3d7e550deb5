// `joinery tokens test` (admin) and `joinery join --dry-run` (a host): a join evaluated without
// admitting, every check with its outcome. Exit 0 when the join would be admitted, 1 when not.

import * as fs from 'node:fs';
import type { EvaluationView, JoineryClient, TokenTestAnswer } from '../client/api-client';
import { UsageError, type Parsed } from './args';
import { adminClient, formatOf, str } from './common';
import { prepareJoin, type JoinSettings } from './join';
import { out, printValue } from './output';

const mark = (ok: boolean) => (ok ? 'ok  ' : 'FAIL');

/** One evaluation as lines: the verdict, the identity, the token-wide checks, then each rule's. */
export function evaluationText(e: EvaluationView, title: string): string {
  const lines = [`${title}: ${e.would_join ? 'would join' : `would be refused${e.code ? ` (${e.code})` : ''}`}`];
  if (e.message && !e.would_join) lines.push(`  ${e.message}`);
  if (e.identity && Object.keys(e.identity).length > 0) lines.push(`  identity: ${Object.entries(e.identity).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  for (const c of e.checks) lines.push(`  ${mark(c.ok)} ${c.check}${c.detail ? `: ${c.detail}` : ''}`);
  for (const r of e.rules) {
    lines.push(`  allow[${r.index}]: ${r.matched ? 'matches' : 'does not match'}`);
    for (const c of r.checks) lines.push(`    ${mark(c.ok)} ${c.check}${c.detail ? `: ${c.detail}` : ''}`);
  }
  return lines.join('\n');
}

function readIid(file: string): string {
  try {
    return fs.readFileSync(file === '-' ? 0 : file, 'utf8').trim();
  } catch (e) {
    throw new UsageError(`cannot read --iid ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

export async function tokensTest(p: Parsed): Promise<number> {
  const [name] = p.positional;
  const iid = str(p, 'iid');
  const arn = str(p, 'arn');
  const account = str(p, 'account');
  if ((iid === undefined) === (arn === undefined)) throw new UsageError('tokens test needs exactly one of --iid FILE or --arn ARN');
  if (account !== undefined && arn === undefined) throw new UsageError('--account goes with --arn');
  const body = {
    ...(iid !== undefined ? { iid: readIid(iid) } : { arn, ...(account !== undefined ? { account } : {}) }),
    ...(str(p, 'role') !== undefined ? { role: str(p, 'role') } : {}),
    ...(p.flags['check-aws'] === true ? { check_aws: true } : {}),
  };
  const format = formatOf(p, 'text');
  const answer: TokenTestAnswer = await adminClient(p).testTokens(name, body);
  if (format !== 'text') printValue(answer, format);
  else if (answer.results.length === 0) out(`no ${iid !== undefined ? 'ec2' : 'iam'} token to test`);
  else out(answer.results.map((r) => evaluationText(r, `token ${r.token}`)).join('\n\n'));
  return answer.would_join ? 0 : 1;
}

/** `joinery join --dry-run`: the real proof, sent with dry_run; the server evaluates and admits nothing. */
export async function joinDryRun(p: Parsed, client: JoineryClient, s: Pick<JoinSettings, 'method' | 'tokenName' | 'role' | 'hostId' | 'region'>): Promise<number> {
  const format = formatOf(p, 'text');
  const prepared = await prepareJoin(client, s);
  // A malformed request is answered as an error, as for a join; anything evaluated comes back as 200.
  const answer = await client.post<EvaluationView>(prepared.path, { ...prepared.body, dry_run: true });
  if (format !== 'text') printValue(answer, format);
  // A token-method token's name is its secret: not printed.
  else out(evaluationText(answer, `dry run: ${s.method} join${s.method === 'token' ? '' : ` with token ${s.tokenName}`}`));
  return answer.would_join ? 0 : 1;
}
