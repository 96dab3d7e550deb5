// The audit's event types: for each, a stable event code (one for the accepted outcome, one for
// the refused one, Teleport-style: `JJ002W` is "an EC2 join was refused") and what it means. The
// codes are what SIEM rules match on; they never change meaning, and a new event type gets new
// codes. A join method's module declares its own (`eventCodes`); the others are in event-types.ts.
// The JSON Schemas of the events follow this table (schemas.ts), and so do docs/audit.md's.

import type { AuditEvent } from '../store/types';
import type { JoinMethodModule } from '../join/method';
import { joinMethodModules } from '../join/methods';
import { SERVER_EVENT_TYPES, type EventTypeInfo } from './event-types';

export type { EventTypeInfo } from './event-types';

/** A join method's event type, from what its module declares (api/join/methods.ts). */
function joinEventType(mod: JoinMethodModule): EventTypeInfo {
  return { type: `join.${mod.method}`, accepted: mod.eventCodes.accepted, refused: mod.eventCodes.refused, meaning: mod.eventCodes.meaning, details: 'join' };
}

/** Every event type: one per registered join method, then the server's own. */
export function eventTypes(mods: readonly JoinMethodModule[] = joinMethodModules()): EventTypeInfo[] {
  return [...mods.map(joinEventType), ...SERVER_EVENT_TYPES];
}

/** The codes of an event type this release does not describe (written by a newer replica, say). */
export const UNKNOWN_EVENT_CODES = { accepted: 'JX000I', refused: 'JX000W' } as const;

/** The catalog by type, rebuilt when a method is registered (the registry only grows). */
let byType: { size: number; map: Map<string, EventTypeInfo> } | undefined;

export function eventTypeInfo(type: string): EventTypeInfo | undefined {
  const mods = joinMethodModules();
  if (byType?.size !== mods.length) byType = { size: mods.length, map: new Map(eventTypes(mods).map((t) => [t.type, t])) };
  return byType.map.get(type);
}

/** The stable code of an event: its type and outcome. */
export function eventCode(type: string, success: boolean): string {
  const info = eventTypeInfo(type);
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
