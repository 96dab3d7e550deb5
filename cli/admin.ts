// tctl-like admin commands: status, create, get, tokens ls|rm, nodes ls|rm.

import * as fs from 'node:fs';
import * as YAML from 'yaml';
import { ApiError, type TokenResource } from '../client/api-client';
import { decodeUtf8Strict, DocumentError, parseYamlStrict, type ParsedDocument } from '../schema/strict-documents';
import { parseToken, TokenValidationError } from '../schema/token';
import { UsageError, type Parsed } from './args';
import { adminClient, str } from './common';

const out = (s: string) => process.stdout.write(s.endsWith('\n') ? s : s + '\n');

export async function status(p: Parsed): Promise<number> {
  const s = await adminClient(p).status();
  if (str(p, 'format') === 'json') out(JSON.stringify(s, null, 2));
  else out(`Cluster  ${s.cluster_name}\nVersion  ${s.version}\nCA pin   ${s.ca_pin}\nStorage  ${s.storage}`);
  return 0;
}

/**
 * The resources in a YAML or JSON file, read as strictly as the API reads bodies: invalid UTF-8,
 * duplicate keys and YAML tags outside the core schema are refused with a one-line error.
 */
function readDocuments(file: string): unknown[] {
  let bytes: Buffer;
  try {
    bytes = file === '-' ? fs.readFileSync(0) : fs.readFileSync(file);
  } catch (e) {
    throw new UsageError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let docs: ParsedDocument[];
  try {
    docs = parseYamlStrict(decodeUtf8Strict(bytes));
  } catch (e) {
    if (e instanceof DocumentError) {
      const what = e.code === 'invalid_yaml' ? e.message.replace(/^not valid YAML/, 'not valid YAML or JSON') : e.message;
      throw new UsageError(`${file}: ${what.split('\n')[0]}`);
    }
    throw e;
  }
  if (docs.length === 0) throw new UsageError(`${file} holds no resource`);
  return docs.map((d) => d.value);
}

/** Validates every document before sending any, so one bad document leaves nothing half-applied. */
export async function create(p: Parsed): Promise<number> {
  const file = str(p, 'filename');
  if (!file) throw new UsageError('create needs -f FILE (YAML or JSON; - for standard input)');
  const docs = readDocuments(file);
  const tokens = docs.map((doc, i) => {
    const kind = (doc as { kind?: unknown } | null)?.kind;
    if (kind !== undefined && kind !== 'token') throw new UsageError(`${file}: document ${i + 1} has kind ${JSON.stringify(kind)}; only kind token is supported`);
    try {
      return parseToken(doc);
    } catch (e) {
      if (e instanceof TokenValidationError) throw new UsageError(`${file}${docs.length > 1 ? ` (document ${i + 1})` : ''}: ${e.message}`);
      throw e;
    }
  });
  const client = adminClient(p);
  for (const t of tokens) {
    const name = t.metadata.name;
    const sent = { ...t, metadata: { ...t.metadata } };
    delete sent.metadata.revision;
    if (p.flags.force) {
      await client.putToken(sent);
      out(`token "${name}" has been ${'upserted'}`);
    } else {
      try {
        await client.createToken(sent);
      } catch (e) {
        if (e instanceof ApiError && e.status === 409 && e.code === 'already_exists') {
          throw new ApiError(409, e.code, `token "${name}" already exists; use --force to overwrite it`);
        }
        throw e;
      }
      out(`token "${name}" has been created`);
    }
  }
  return 0;
}

function printResource(r: unknown, format: string): void {
  if (format === 'json') out(JSON.stringify(r, null, 2));
  else if (format === 'yaml') out(YAML.stringify(r));
  else throw new UsageError(`--format must be yaml or json (got ${format})`);
}

export async function get(p: Parsed): Promise<number> {
  const ref = p.positional[0];
  const m = ref ? /^tokens?\/(.+)$/.exec(ref) : null;
  if (!m) throw new UsageError('get needs token/NAME');
  const token = await adminClient(p).getToken(m[1]);
  if (!token) throw new ApiError(404, 'not_found', `token "${m[1]}" not found`);
  const { status: _status, ...resource } = token;
  printResource(resource, str(p, 'format') ?? 'yaml');
  return 0;
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c])).join('  ').trimEnd()).join('\n');
}

function expiry(t: TokenResource): string {
  if (!t.metadata.expires) return 'never';
  return t.status?.expired ? `${t.metadata.expires} (expired)` : t.metadata.expires;
}

export async function tokens(p: Parsed): Promise<number> {
  const [sub, name] = p.positional;
  const client = adminClient(p);
  if (sub === 'ls') {
    const list = await client.listTokens();
    if (str(p, 'format') && str(p, 'format') !== 'text') {
      printResource(list.map(({ status: _s, ...r }) => r), str(p, 'format')!);
      return 0;
    }
    if (list.length === 0) {
      out('No tokens found.');
      return 0;
    }
    out(table([['Token', 'Join Method', 'Roles', 'Allow Rules', 'Expiry'], ...list.map((t) => [t.metadata.name, t.spec.join_method, t.spec.roles.join(','), String(t.spec.allow?.length ?? 0), expiry(t)])]));
    return 0;
  }
  if (sub === 'rm') {
    if (!name) throw new UsageError('tokens rm needs a token name');
    if (!(await client.deleteToken(name))) throw new ApiError(404, 'not_found', `token "${name}" not found`);
    out(`token "${name}" has been deleted`);
    return 0;
  }
  throw new UsageError('usage: joinery tokens ls | tokens rm NAME');
}

export async function nodes(p: Parsed): Promise<number> {
  const [sub, hostId] = p.positional;
  const client = adminClient(p);
  if (sub === 'ls') {
    const list = await client.listNodes();
    if (str(p, 'format') && str(p, 'format') !== 'text') {
      printResource(list, str(p, 'format')!);
      return 0;
    }
    if (list.length === 0) {
      out('No nodes have joined.');
      return 0;
    }
    out(
      table([
        ['Host ID', 'Status', 'Method', 'Role', 'Token', 'Joined', 'Last renewed', 'Serial', 'Expires'],
        ...list.map((n) => [n.host_id, n.status, n.join_method, n.role, n.token_name, n.joined_at, n.last_renewed_at ?? '-', n.cert_serial, n.cert_expires_at]),
      ]),
    );
    return 0;
  }
  if (sub === 'rm') {
    if (!hostId) throw new UsageError('nodes rm needs a host ID');
    if (!(await client.deleteNode(hostId))) throw new ApiError(404, 'not_found', `node "${hostId}" not found`);
    out(`node "${hostId}" has been removed: its renewals are refused, its certificates are on the CRL, and it may join again`);
    return 0;
  }
  throw new UsageError('usage: joinery nodes ls | nodes rm HOST_ID');
}
