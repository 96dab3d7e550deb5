// docs/refusals.md, whole: every refusal code a join or a renewal can give, one section per
// registered join method (api/join/methods.ts) and one for the renewal, all from the one registry
// (refusals.ts). Written by `npm run docs:refusals`; a test keeps the file equal to this, so a new
// method's section appears without editing any page.

import type { JoinMethodModule } from './method';
import { joinMethodModules } from './methods';
import { refusalTable } from './refusals';

export function refusalReference(mods: readonly JoinMethodModule[] = joinMethodModules()): string {
  const sections = [
    '# Refusal codes',
    '',
    '<!-- Generated from api/join/refusals.ts and api/join/methods.ts by `npm run docs:refusals`; do not edit. -->',
    '',
    'Every refused join or renewal answers `{"error": {"code", "message"}}` with one of these codes and its HTTP status; the audit event of the attempt carries the same code (and, for a rule mismatch, each rule\'s failed checks). The OpenAPI document lists them per operation as `x-refusal-codes`.',
  ];
  for (const mod of mods) sections.push('', `## POST /v1/join/${mod.method}`, '', `${mod.summary}. Audit event \`join.${mod.method}\` (${mod.eventCodes.accepted} / ${mod.eventCodes.refused}).`, '', refusalTable(mod.method));
  sections.push('', '## POST /v1/renew', '', 'Renewal over mutual TLS with the current host certificate. Audit event `renew`.', '', refusalTable('renew'));
  return sections.join('\n') + '\n';
}
