// The console's only way to the server: same-origin fetch with the session cookie, and the
// session's CSRF token (held in memory only, never in storage) on every change.

export interface ApiErrorBody {
  code: string;
  message: string;
  field?: string;
  details?: { field: string; message: string }[];
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: ApiErrorBody,
  ) {
    super(body.message);
  }
  /** Problems by field path, for showing each at its input. */
  fieldErrors(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const d of this.body.details ?? []) out[d.field] ??= d.message;
    if (this.body.field && !(this.body.field in out)) out[this.body.field] = this.body.message;
    return out;
  }
}

let csrf: string | undefined;
let onSignedOut: () => void = () => undefined;

export function setSession(token: string | undefined): void {
  csrf = token;
}

/** Called when the server says the session ended, so the page can show the sign-in again. */
export function whenSignedOut(f: () => void): void {
  onSignedOut = f;
}

export async function api<T>(method: string, path: string, body?: unknown, opts: { yaml?: boolean } = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (method !== 'GET' && csrf) headers['X-CSRF-Token'] = csrf;
  // Names the console as the writer, so a token created here is recorded as managed here.
  if (method !== 'GET') headers['Joinery-Client'] = 'console';
  let payload: string | undefined;
  if (body !== undefined) {
    headers['Content-Type'] = opts.yaml ? 'application/yaml' : 'application/json';
    payload = opts.yaml ? String(body) : JSON.stringify(body);
  }
  const res = await fetch(path, { method, headers, body: payload, credentials: 'same-origin', cache: 'no-store' });
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const err = (json as { error?: ApiErrorBody } | undefined)?.error ?? { code: `http_${res.status}`, message: `the server answered ${res.status}` };
    if (res.status === 401 && path !== '/console/api/session') onSignedOut();
    throw new ApiError(res.status, err);
  }
  return json as T;
}

export const enc = encodeURIComponent;

/** Every page of a paged /v1 list, up to `maxPages`. */
export async function listAll<T>(path: string, key: string, maxPages = 20): Promise<{ items: T[]; more: boolean }> {
  const items: T[] = [];
  let token: string | undefined;
  for (let i = 0; i < maxPages; i++) {
    const sep = path.includes('?') ? '&' : '?';
    const page = await api<Record<string, unknown>>('GET', token ? `${path}${sep}page_token=${enc(token)}` : path);
    items.push(...((page[key] as T[]) ?? []));
    token = page.next_page_token as string | undefined;
    if (!token) return { items, more: false };
  }
  return { items, more: true };
}
