// The audit's event types other than the joins (whose types, `join.<method>`, and codes each join
// method's module declares: catalog.ts derives them). Apart so that the CLI can name every event
// type without loading the join methods and their AWS clients.

export interface EventTypeInfo {
  type: string;
  /** The event code when success is true; undefined when the event is only ever a failure. */
  accepted?: string;
  /** The event code when success is false; undefined when the event is only ever a success. */
  refused?: string;
  /** What happened, for the docs table. */
  meaning: string;
  /** The kind of `details` it carries (schemas.ts). */
  details: 'join' | 'renew' | 'lock' | 'none';
}

export const SERVER_EVENT_TYPES: readonly EventTypeInfo[] = [
  { type: 'renew', accepted: 'JR001I', refused: 'JR001W', meaning: 'a joined host renewed its certificate over mutual TLS (or was refused)', details: 'renew' },
  { type: 'token.create', accepted: 'JT001I', meaning: 'an admin created a token', details: 'none' },
  { type: 'token.update', accepted: 'JT002I', meaning: 'an admin replaced a token', details: 'none' },
  { type: 'token.delete', accepted: 'JT003I', meaning: 'an admin deleted a token', details: 'none' },
  { type: 'node.delete', accepted: 'JN001I', meaning: 'an admin removed a host: its renewals are refused and its certificates revoked', details: 'none' },
  { type: 'lock.create', accepted: 'JL001I', meaning: 'an admin created a lock: matching joins and renewals are refused, the matched hosts\' unexpired certificates revoked', details: 'lock' },
  { type: 'lock.delete', accepted: 'JL002I', meaning: 'an admin removed a lock', details: 'lock' },
  { type: 'lock.update', accepted: 'JL004I', meaning: 'an admin changed a lock\'s end or message (its target is fixed)', details: 'lock' },
  { type: 'lock.expire', accepted: 'JL003I', meaning: 'a lock reached its TTL and was deleted by housekeeping', details: 'lock' },
  { type: 'admin.auth', refused: 'JA001W', meaning: 'a request to an admin endpoint without a valid admin credential (the credential itself is never recorded)', details: 'none' },
  { type: 'admin.sign_in', accepted: 'JA002I', meaning: 'the web console was signed in to with the admin credential: a session began (a failed sign-in is admin.auth)', details: 'none' },
  { type: 'ca.rotate', accepted: 'JC001I', meaning: 'an admin started a CA rotation, moved it to a phase or rolled it back (the message names the phase and the trusted CA pins); automatic phase changes are logged, not audited', details: 'none' },
  { type: 'admin.sign_out', accepted: 'JA003I', meaning: 'a web console session was signed out and ended on the server', details: 'none' },
];
