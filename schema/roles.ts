// Teleport system roles a provision token may grant, in their canonical casing.
// Input is matched case-insensitively ("DB" in the seed comments means "Db").
export const SYSTEM_ROLES = [
  'Auth',
  'Node',
  'Proxy',
  'Trusted_cluster',
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
  'OpenSSH',
  'OpenSSHEC2ICE',
  'AccessGraph',
] as const;

export type SystemRole = (typeof SYSTEM_ROLES)[number];

const BY_LOWER = new Map<string, SystemRole>(SYSTEM_ROLES.map((r) => [r.toLowerCase(), r]));
// Older spellings Teleport still accepts.
BY_LOWER.set('trustedcluster', 'Trusted_cluster');
BY_LOWER.set('database', 'Db');

/** The canonical spelling of a role name, or undefined when it is not a system role. */
export function canonicalRole(name: string): SystemRole | undefined {
  return BY_LOWER.get(name.toLowerCase());
}
