// The join methods the server offers, one module each (JoinMethodModule, method.ts). Everything
// per method follows from this registry: the routes POST /v1/join/<method>, their OpenAPI
// operations, the audit event types join.<method> with their codes and schemas, and the refusal
// reference docs/refusals.md. Adding a method is its module and one line in BUILT_IN (see
// docs/join-methods.md for the whole list, host side included).

import { ec2Method } from './ec2/join-ec2';
import { iamMethod } from './iam/join-iam';
import { tokenMethod } from './join-token';
import type { JoinMethodModule } from './method';

const BUILT_IN: readonly JoinMethodModule[] = [tokenMethod, ec2Method, iamMethod];

const registry = new Map<string, JoinMethodModule>();

/** A method's name is a URL path segment, an event type suffix and a docs marker: lower-case letters and digits. */
const METHOD_NAME = /^[a-z][a-z0-9]{0,31}$/;

/**
 * Adds a method. Refuses a name that is taken or unusable and event codes another method has,
 * so two methods can never share a route or an audit code. Register before the server starts:
 * the routes are built once.
 */
export function registerJoinMethod(mod: JoinMethodModule): void {
  if (!METHOD_NAME.test(mod.method)) throw new Error(`join method name ${JSON.stringify(mod.method)} must be lower-case letters and digits`);
  if (registry.has(mod.method)) throw new Error(`join method ${mod.method} is already registered`);
  const { accepted, refused } = mod.eventCodes;
  for (const other of registry.values()) {
    const taken = [other.eventCodes.accepted, other.eventCodes.refused];
    if (taken.includes(accepted) || taken.includes(refused) || accepted === refused) throw new Error(`join method ${mod.method}: event codes ${accepted}/${refused} collide with ${other.method}'s`);
  }
  registry.set(mod.method, mod);
}

for (const mod of BUILT_IN) registerJoinMethod(mod);

/** Every registered method, in registration order. */
export function joinMethodModules(): readonly JoinMethodModule[] {
  return [...registry.values()];
}
