// Teleport system roles a provision token may grant, in their canonical casing, with the other
// spellings Teleport accepts. The facts follow Teleport's api/types/system_role.go: a name is
// trimmed and lower-cased, then looked up among these spellings; anything else is refused.
export const SYSTEM_ROLES = [
  'Auth',
  'Node',
  'Proxy',
  'Admin',
  'ProvisionToken',
  'Trusted_cluster',
  'Signup',
  'Nop',
  'RemoteProxy',
  'Kube',
  'App',
  'Db',
  'WindowsDesktop',
  'Bot',
  'Instance',
  'Discovery',
  'Okta',
  'MDM',
  'AccessGraphPlugin',
] as const;

export type SystemRole = (typeof SYSTEM_ROLES)[number];

const BY_LOWER = new Map<string, SystemRole>(SYSTEM_ROLES.map((r) => [r.toLowerCase(), r]));
// The other spellings Teleport maps to these roles.
BY_LOWER.set('trustedcluster', 'Trusted_cluster');
BY_LOWER.set('remote_proxy', 'RemoteProxy');
BY_LOWER.set('windows_desktop', 'WindowsDesktop');

/**
 * Roles that are Teleport services running on the host (remote proxies and non-service roles
 * such as Bot or Admin are not). A token granting any of them also lets the host join as
 * `Instance`, the role every Teleport process holds besides its services.
 */
export const LOCAL_SERVICE_ROLES: readonly SystemRole[] = ['Auth', 'Node', 'Proxy', 'Kube', 'App', 'Db', 'WindowsDesktop', 'Discovery', 'Okta', 'MDM', 'AccessGraphPlugin'];

/** The canonical spelling of a role name, or undefined when it is not a system role. */
export function canonicalRole(name: string): SystemRole | undefined {
  return BY_LOWER.get(name.trim().toLowerCase());
}

/**
 * The role a host asking for `requested` gets from a token granting `granted`, or undefined when
 * the token does not allow it. `Instance` is implied by any local service role.
 */
export function grantedRole(granted: readonly string[], requested: string): SystemRole | undefined {
  const role = canonicalRole(requested);
  if (!role) return undefined;
  const have = granted.map(canonicalRole);
  if (have.includes(role)) return role;
  if (role === 'Instance' && have.some((r) => r !== undefined && LOCAL_SERVICE_ROLES.includes(r))) return role;
  return undefined;
}
