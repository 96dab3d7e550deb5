// The audit's event types: for each, a stable event code (one for the accepted outcome, one for
// the refused one, Teleport-style: `JJ002W` is "an EC2 join was refused") and what it means. The
// codes are what SIEM rules match on; they never change meaning, and a new event type gets new
// codes. The JSON Schemas of the events follow this table (schemas.ts), and so do docs/audit.md's.

import type { AuditEvent } from '../store/types';

export interface EventTypeInfo {
  type: string;
  /** The event code when success is true; undefined when the event is only ever a failure. */
  accepted?: string;
  /** The event code when success is false; undefined when the event is only ever a success. */
  refused?: string;
  /** What happened, for the docs table. */
  meaning: string;
  /** The kind of `details` it carries (schemas.ts). */
  details: 'join' | 'renew' | 'none';
}

export const EVENT_TYPES: readonly EventTypeInfo[] = [
  { type: 'join.token', accepted: 'JJ001I', refused: 'JJ001W', meaning: 'a host joined (or was refused) with the token method; the token name is masked, since it is the secret', details: 'join' },
  { type: 'join.ec2', accepted: 'JJ002I', refused: 'JJ002W', meaning: 'an EC2 instance joined (or was refused) with its signed instance identity document', details: 'join' },
  { type: 'join.iam', accepted: 'JJ003I', refused: 'JJ003W', meaning: 'an AWS identity joined (or was refused) with a signed sts:GetCallerIdentity request', details: 'join' },
  { type: 'renew', accepted: 'JR001I', refused: 'JR001W', meaning: 'a joined host renewed its certificate over mutual TLS (or was refused)', details: 'renew' },
  { type: 'token.create', accepted: 'JT001I', meaning: 'an admin created a token', details: 'none' },
  { type: 'token.update', accepted: 'JT002I', meaning: 'an admin replaced a token', details: 'none' },
  { type: 'token.delete', accepted: 'JT003I', meaning: 'an admin deleted a token', details: 'none' },
  { type: 'node.delete', accepted: 'JN001I', meaning: 'an admin removed a host: its renewals are refused and its certificates revoked', details: 'none' },
  { type: 'admin.auth', refused: 'JA001W', meaning: 'a request to an admin endpoint without a valid admin credential (the credential itself is never recorded)', details: 'none' },
  { type: 'admin.sign_in', accepted: 'JA002I', meaning: 'the web console was signed in to with the admin credential: a session began (a failed sign-in is admin.auth)', details: 'none' },
  { type: 'ca.rotate', accepted: 'JC001I', meaning: 'an admin started a CA rotation, moved it to a phase or rolled it back (the message names the phase and the trusted CA pins); automatic phase changes are logged, not audited', details: 'none' },
  { type: 'admin.sign_out', accepted: 'JA003I', meaning: 'a web console session was signed out and ended on the server', details: 'none' },
];

/** The codes of an event type this release does not describe (written by a newer replica, say). */
export const UNKNOWN_EVENT_CODES = { accepted: 'JX000I', refused: 'JX000W' } as const;

const BY_TYPE = new Map(EVENT_TYPES.map((t) => [t.type, t]));

export function eventTypeInfo(type: string): EventTypeInfo | undefined {
  return BY_TYPE.get(type);
}

/** The stable code of an event: its type and outcome. */
export function eventCode(type: string, success: boolean): string {
  const info = BY_TYPE.get(type);
  const known = success ? info?.accepted : info?.refused;
  return known ?? (success ? UNKNOWN_EVENT_CODES.accepted : UNKNOWN_EVENT_CODES.refused);
}

/**
 * An event as the API answers it and the export writes it: the stored fields, with its event
 * code, absent fields left out (never null), in a fixed key order so lines diff well.
 */
export interface AuditEventView {
  id: number;
  time: string;
  type: string;
  eventCode: string;
  success: boolean;
  code?: string;
  message?: string;
  tokenName?: string;
  hostId?: string;
  remoteAddr?: string;
  details?: Record<string, unknown>;
}

export function auditEventView(e: AuditEvent): AuditEventView {
  const v: AuditEventView = { id: e.id ?? 0, time: e.time, type: e.type, eventCode: eventCode(e.type, e.success), success: e.success };
  if (e.code !== undefined) v.code = e.code;
  if (e.message !== undefined) v.message = e.message;
  if (e.tokenName !== undefined) v.tokenName = e.tokenName;
  if (e.hostId !== undefined) v.hostId = e.hostId;
  if (e.remoteAddr !== undefined) v.remoteAddr = e.remoteAddr;
  if (e.details !== undefined) v.details = e.details;
  return v;
}
