// Private state: opaque bytes Terraform stores beside a resource's state and hands back at the
// next plan, apply and read. The provider keeps small JSON objects there (a token's revision, a
// token lock's target digest); anything unreadable (another provider version) reads as absent.

export function encodePrivate(fields: Record<string, string>): Buffer {
  return Buffer.from(JSON.stringify(fields));
}

/** One string field of the private state, or undefined. */
export function privateField(bytes: Uint8Array | undefined | null, name: string): string | undefined {
  if (!bytes || bytes.length === 0) return undefined;
  try {
    const v = JSON.parse(Buffer.from(bytes).toString('utf8')) as Record<string, unknown> | null;
    return typeof v?.[name] === 'string' ? (v[name] as string) : undefined;
  } catch {
    return undefined;
  }
}
