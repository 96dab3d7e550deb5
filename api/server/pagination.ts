// Paginated list routes: `?limit=N&page_token=T`, answered with the page and, when more remain,
// `next_page_token`. Clients must follow next_page_token until it is absent: without parameters
// only the first page comes back.
//
// The page token carries the last key of the page, and for tokens that key is a token name, which
// for the `token` method is the secret itself. Page tokens travel in URLs, which proxies and load
// balancers log, so the key is sealed (AES-256-GCM) rather than merely encoded: the token is
// opaque to its holder, and any tampering is refused as invalid_page_token. The sealing key lives
// in the settings table, so every replica reads the same one and a page token from one replica
// works on another.

import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { MAX_LIST_LIMIT, type SettingsStore } from '../store/types';
import { HttpError } from './errors';

export const DEFAULT_PAGE_SIZE = 500;
export const MAX_PAGE_SIZE = MAX_LIST_LIMIT;
/**
 * A page also ends once its JSON passes this many bytes, at least one item per page, so large
 * tokens cannot make one answer outgrow a client's response cap (16 MiB in JoineryClient).
 */
export const PAGE_BYTES_BUDGET = 8 * 1024 * 1024;

const KEY_SETTING = 'page_token_key';
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** The longest key sealed is a 253-character name: anything far longer is not ours. */
const MAX_TOKEN_CHARS = 2048;

export type ListKind = 'tokens' | 'nodes' | 'events' | 'locks';

export interface PageQuery {
  limit: number;
  /** The key after which the page starts. */
  after?: string;
}

function invalidToken(): HttpError {
  return new HttpError(400, 'invalid_page_token', 'page_token is not a page token this server issued for this list; start again without page_token', 'page_token');
}

export class PageTokens {
  private key?: Promise<Buffer>;

  constructor(private readonly settings: SettingsStore) {}

  private sealingKey(): Promise<Buffer> {
    this.key ??= this.settings
      .setIfAbsent(KEY_SETTING, randomBytes(32).toString('base64'))
      .then((v) => {
        const key = Buffer.from(v, 'base64');
        if (key.length !== 32) throw new Error(`the ${KEY_SETTING} setting is not a 256-bit key`);
        return key;
      })
      .catch((e) => {
        this.key = undefined;
        throw e;
      });
    return this.key;
  }

  async seal(kind: ListKind, lastKey: string): Promise<string> {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', await this.sealingKey(), iv);
    cipher.setAAD(Buffer.from(kind)); // a nodes token is refused by the tokens list and back
    const body = Buffer.concat([cipher.update(lastKey, 'utf8'), cipher.final()]);
    return Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url');
  }

  async open(kind: ListKind, token: string): Promise<string> {
    // Strict base64url: Buffer.from ignores characters outside the alphabet.
    if (token.length > MAX_TOKEN_CHARS || !/^[A-Za-z0-9_-]+$/.test(token)) throw invalidToken();
    const raw = Buffer.from(token, 'base64url');
    if (raw.length < IV_BYTES + TAG_BYTES + 1 || raw.toString('base64url') !== token) throw invalidToken();
    const key = await this.sealingKey();
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(kind));
      decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
      const plain = Buffer.concat([decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), decipher.final()]);
      return new TextDecoder('utf-8', { fatal: true }).decode(plain);
    } catch {
      throw invalidToken();
    }
  }
}

function single(value: unknown, field: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new HttpError(400, field === 'limit' ? 'invalid_query' : 'invalid_page_token', `${field} must be given once, as a plain value`, field);
  return value;
}

/** Reads `limit` and `page_token` from a query string; 400 with the field for anything else. */
export async function parsePageQuery(query: Record<string, unknown>, kind: ListKind, tokens: PageTokens): Promise<PageQuery> {
  const rawLimit = single(query.limit, 'limit');
  let limit = DEFAULT_PAGE_SIZE;
  if (rawLimit !== undefined) {
    limit = /^[0-9]{1,7}$/.test(rawLimit) ? Number(rawLimit) : Number.NaN;
    if (!(limit >= 1 && limit <= MAX_PAGE_SIZE)) {
      throw new HttpError(400, 'invalid_query', `limit must be an integer from 1 to ${MAX_PAGE_SIZE} (got ${JSON.stringify(rawLimit.slice(0, 32))})`, 'limit');
    }
  }
  const rawToken = single(query.page_token, 'page_token');
  if (rawToken === undefined || rawToken === '') return { limit };
  return { limit, after: await tokens.open(kind, rawToken) };
}

/**
 * Cuts a page to the byte budget and answers it: `{[kind]: views, next_page_token?}`. `next` is
 * the store's key after the full page; `keyOf` gives the key of an item when the budget ends the
 * page early.
 */
export async function pageBody<T, V>(
  kind: ListKind,
  page: { items: T[]; next?: string },
  view: (item: T) => V,
  keyOf: (item: T) => string,
  tokens: PageTokens,
  budget = PAGE_BYTES_BUDGET,
): Promise<Record<string, unknown>> {
  const views: V[] = [];
  let bytes = 0;
  let next = page.next;
  for (const [i, item] of page.items.entries()) {
    const v = view(item);
    views.push(v);
    bytes += Buffer.byteLength(JSON.stringify(v));
    if (bytes >= budget && i < page.items.length - 1) {
      next = keyOf(item);
      break;
    }
  }
  return { [kind]: views, ...(next !== undefined ? { next_page_token: await tokens.seal(kind, next) } : {}) };
}
