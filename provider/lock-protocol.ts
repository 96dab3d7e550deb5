// The tfplugin6 side of teleport_lock: decodes the requests service.ts routes here, runs the
// resource logic of lock.ts and encodes its answers. A lock has no resource identity (its import
// ID is the server's lock ID); its private state holds a token lock's target digest, the one way
// to tell that an imported, masked secret token name is the configured one.

import type { JoineryClient } from '../client/api-client';
import { decodeDynamic, dynamic, type CtyObject } from './cty';
import { error, toProto, type Diagnostic } from './diagnostics';
import { encodePrivate, privateField } from './private-state';
import { applyLock, importLock, planLock, readLock, validateLockConfig, type LockResult } from './lock';
import { LOCK_RESOURCE_TYPE, LOCK_SCHEMA, schemaType } from './schema';

export const LOCK_T = schemaType(LOCK_SCHEMA);

type Req = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
type Client = JoineryClient | Diagnostic[];

const diagList = (d: Diagnostic[]) => d.map(toProto);
const decode = (v: unknown) => decodeDynamic(v as never, LOCK_T) as CtyObject | null;

function digestPrivate(targetDigest: string | undefined, fallback: unknown): unknown {
  return targetDigest ? encodePrivate({ target_sha256: targetDigest }) : fallback;
}

const privateDigest = (bytes: Uint8Array | undefined | null) => privateField(bytes, 'target_sha256');

export const lockProtocol = {
  validate(req: Req): Record<string, unknown> {
    return { diagnostics: diagList(validateLockConfig(decode(req.config)!)) };
  },

  plan(req: Req): Record<string, unknown> {
    const { planned, requiresReplace, diagnostics } = planLock(decode(req.prior_state), decode(req.proposed_new_state), decode(req.config), privateDigest(req.prior_private));
    return {
      planned_state: dynamic(planned, LOCK_T),
      requires_replace: requiresReplace.map((p) => toProto(error('', '', p)).attribute),
      planned_private: req.prior_private,
      diagnostics: diagList(diagnostics),
    };
  },

  async apply(req: Req, client: Client): Promise<Record<string, unknown>> {
    const prior = decode(req.prior_state);
    if (Array.isArray(client)) return { new_state: dynamic(prior, LOCK_T), diagnostics: diagList(client) };
    const r: LockResult = await applyLock(client, prior, decode(req.planned_state));
    return { new_state: dynamic(r.newState, LOCK_T), diagnostics: diagList(r.diagnostics), private: digestPrivate(r.targetDigest, req.planned_private) };
  },

  async read(req: Req, client: Client): Promise<Record<string, unknown>> {
    const prior = decode(req.current_state);
    if (!prior) return { new_state: dynamic(null, LOCK_T), diagnostics: [] };
    if (Array.isArray(client)) return { new_state: req.current_state, diagnostics: diagList(client) };
    const r = await readLock(client, prior);
    return { new_state: dynamic(r.newState, LOCK_T), diagnostics: diagList(r.diagnostics), private: digestPrivate(r.targetDigest, req.private) };
  },

  async import(req: Req, client: Client): Promise<Record<string, unknown>> {
    if (Array.isArray(client)) return { imported_resources: [], diagnostics: diagList(client) };
    const r = await importLock(client, String(req.id ?? ''));
    return {
      imported_resources: r.newState ? [{ type_name: LOCK_RESOURCE_TYPE, state: dynamic(r.newState, LOCK_T), private: digestPrivate(r.targetDigest, undefined) }] : [],
      diagnostics: diagList(r.diagnostics),
    };
  },
};
