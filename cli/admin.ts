// tctl-like admin commands: status, create, get, rm, tokens ls|rm, nodes ls|rm, ca rotate.

import { fromKubernetesManifest, KUBERNETES_KIND } from '../schema/manifest';
import { ApiError, type NodeView, type StatusView, type TokenResource } from '../client/api-client';
import { parseToken, TokenValidationError } from '../schema/token';
import { UsageError, type Parsed } from './args';
import { readStrictDocuments } from './documents';
import { adminClient, formatOf, str } from './common';
import { NODE_TABLE, TOKEN_TABLE, nodeTable, out, printResources, printValue, terminalValue, tokenResource, tokenTable } from './output';
import { printPages } from './stream-list';

export async function status(p: Parsed): Promise<number> {
  const s = await adminClient(p).status();
  const format = formatOf(p, 'text');
  if (format !== 'text') printValue(s, format);
  else {
    const lines = [`Cluster  ${terminalValue(s.cluster_name)}`, `Version  ${terminalValue(s.version)}`, `CA pin   ${terminalValue(s.ca_pin)}`, `Storage  ${terminalValue(s.storage)}`];
    if (s.ca_rotation) lines.push(...rotationLines(s.ca_rotation, s.trusted_cas ?? []));
    out(lines.join('\n'));
  }
  return 0;
}

function rotationLines(r: NonNullable<StatusView['ca_rotation']>, cas: { pin: string; state: string; signs: string[]; key?: string }[]): string[] {
  const lines = [`CA rotation  ${terminalValue(r.phase)}${r.phase === 'standby' ? '' : ` (${terminalValue(r.mode)}, since ${terminalValue(r.phase_started_at)}${r.next_phase_at ? `; ${terminalValue(r.next_phase ?? '')} at ${terminalValue(r.next_phase_at)}` : ''})`}`];
  if (r.recorded_phase) lines.push(`  this server cannot follow the rotation the database records (phase ${terminalValue(r.recorded_phase)}): its log says why ("cannot follow the CA rotation"); do not move the rotation on until it follows`);
  for (const ca of cas) {
    lines.push(`  ${terminalValue(ca.state).padEnd(8)} ${terminalValue(ca.pin)}${ca.signs.length ? `  signs ${ca.signs.map(terminalValue).join(', ')}` : '  trusted, signs nothing'}`);
    if (ca.key) lines.push(`           key: ${terminalValue(ca.key)}`);
  }
  return lines;
}

/** `joinery ca rotate`: start a rotation, move it to a phase (--phase), or roll it back. */
export async function caRotate(p: Parsed): Promise<number> {
  const phase = str(p, 'phase');
  const body = {
    ...(phase !== undefined ? { phase } : {}),
    ...(p.flags.rollback ? { rollback: true } : {}),
    ...(p.flags.manual ? { manual: true } : {}),
    ...(str(p, 'grace') !== undefined ? { grace: str(p, 'grace') } : {}),
    ...(str(p, 'new-key') !== undefined ? { new_key: str(p, 'new-key') } : {}),
  };
  const view = await adminClient(p).rotateCa(body);
  const format = formatOf(p, 'text');
  if (format !== 'text') printValue(view, format);
  else out([...rotationLines(view, view.cas), ...(view.phase === 'init' ? ['Hosts pick up the new CA at their next renewal; move on with --phase update_clients (or wait, without --manual).', ...(view.cas[1]?.key?.startsWith('file ') ? ['Replicas on key files follow once the new key file is at the same path on each of them.'] : [])] : [])].join('\n'));
  return 0;
}

/**
 * The resources in a YAML or JSON file, read as strictly as the API reads bodies: invalid UTF-8,
 * duplicate keys and YAML tags outside the core schema are refused with a one-line error.
 */
function readDocuments(file: string): unknown[] {
  const docs = readStrictDocuments(file);
  if (docs.length === 0) throw new UsageError(`${file} holds no resource`);
  return docs;
}

/** Validates every document before sending any, so one bad document leaves nothing half-applied. */
export async function create(p: Parsed): Promise<number> {
  const file = str(p, 'filename');
  if (!file) throw new UsageError('create needs -f FILE (YAML or JSON; - for standard input)');
  const docs = readDocuments(file);
  const tokens = docs.map((doc, i) => {
    const kind = (doc as { kind?: unknown } | null)?.kind;
    if (kind !== undefined && kind !== 'token' && kind !== KUBERNETES_KIND) {
      throw new UsageError(`${file}: document ${i + 1} has kind ${JSON.stringify(kind)}; only kind token (or its Kubernetes form, ${KUBERNETES_KIND}) is supported`);
    }
    try {
      // The Kubernetes manifest of a token (as the EC2 guide shows it) is the same token.
      return parseToken(fromKubernetesManifest(doc));
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

type Ref = { kind: 'token' | 'node'; name?: string };

/** tctl's resource references: tokens, token/NAME, nodes, node/HOST_ID (singular or plural). */
function parseRef(ref: string, verb: string): Ref {
  const m = /^(tokens?|nodes?)(?:\/(.+))?$/.exec(ref);
  if (!m) throw new UsageError(`${verb}: unknown resource ${JSON.stringify(ref)}; use tokens, token/NAME, nodes or node/HOST_ID`);
  return { kind: m[1].startsWith('token') ? 'token' : 'node', name: m[2] };
}

async function getToken(p: Parsed, name: string): Promise<TokenResource> {
  const token = await adminClient(p).getToken(name);
  if (!token) throw new ApiError(404, 'not_found', `token "${name}" not found`);
  return token;
}

/** `get tokens|token/NAME|nodes|node/HOST_ID`: YAML by default, as tctl get. */
export async function get(p: Parsed): Promise<number> {
  const ref = parseRef(p.positional[0] ?? '', 'get');
  const format = formatOf(p, 'yaml');
  if (ref.kind === 'token') {
    const list = ref.name !== undefined ? [await getToken(p, ref.name)] : await adminClient(p).listTokens();
    if (format === 'text') out(tokenTable(list));
    else if (ref.name !== undefined) printValue(tokenResource(list[0]), format);
    else printResources(list.map(tokenResource), format);
    return 0;
  }
  const client = adminClient(p);
  if (ref.name === undefined) {
    // The registry a page at a time, as `nodes ls` prints it (YAML as a stream of documents).
    await printPages(client.nodePages(), format, NODE_TABLE, undefined, 'documents');
    return 0;
  }
  // One read of the one host (a 404 names it).
  const node = await client.request<NodeView>('GET', `/v1/nodes/${encodeURIComponent(ref.name)}`);
  if (format === 'text') out(nodeTable([node]));
  else printValue(node, format);
  return 0;
}

/** `rm token/NAME|node/HOST_ID`. */
export async function rm(p: Parsed): Promise<number> {
  const ref = parseRef(p.positional[0] ?? '', 'rm');
  if (ref.name === undefined) throw new UsageError(`rm needs ${ref.kind}/${ref.kind === 'token' ? 'NAME' : 'HOST_ID'}`);
  return ref.kind === 'token' ? removeToken(p, ref.name) : removeNode(p, ref.name);
}

async function removeToken(p: Parsed, name: string): Promise<number> {
  if (!(await adminClient(p).deleteToken(name))) throw new ApiError(404, 'not_found', `token "${name}" not found`);
  out(`token "${name}" has been deleted`);
  return 0;
}

async function removeNode(p: Parsed, hostId: string): Promise<number> {
  if (!(await adminClient(p).deleteNode(hostId))) throw new ApiError(404, 'not_found', `node "${hostId}" not found`);
  out(`node "${hostId}" has been removed: its renewals are refused, its certificates are on the CRL, and it may join again`);
  return 0;
}

export async function tokensLs(p: Parsed): Promise<number> {
  // A YAML or JSON list, as this command has always printed it, written a page at a time.
  await printPages(adminClient(p).tokenPages(), formatOf(p, 'text'), TOKEN_TABLE, tokenResource);
  return 0;
}

export async function tokensRm(p: Parsed): Promise<number> {
  const [name] = p.positional;
  if (!name) throw new UsageError('tokens rm needs a token name');
  return removeToken(p, name);
}

export async function nodesLs(p: Parsed): Promise<number> {
  const label = str(p, 'label');
  const labels = label === undefined ? undefined : label.split(',').filter(Boolean);
  if (labels?.some((l) => l.indexOf('=') <= 0)) throw new UsageError('--label takes KEY=VALUE pairs, comma-separated (aws/Team=payments)');
  const filter = { status: str(p, 'status'), method: str(p, 'method'), token: str(p, 'token'), stale: str(p, 'stale'), labels };
  await printPages(adminClient(p).nodePages(undefined, filter), formatOf(p, 'text'), NODE_TABLE);
  return 0;
}

export async function nodesRm(p: Parsed): Promise<number> {
  const [hostId] = p.positional;
  if (!hostId) throw new UsageError('nodes rm needs a host ID');
  return removeNode(p, hostId);
}
