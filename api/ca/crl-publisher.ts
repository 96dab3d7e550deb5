// The CRL as published: built once per change and served from memory. A request costs one
// primary-key read (the CRL revision, which every removal that revokes bumps in its own
// transaction), and a rebuild reads the revoked serials a page at a time from their index,
// yielding to the event loop between pages, so 50 relying services fetching a 250,000-entry CRL
// hold no join or renewal for more than a page.
//
// What makes two CRLs the same, and their number: the content is the revoked certificates that
// are unexpired at the start of the current window (half the CRL's validity), so it changes only
// with the revision or the window, both of which every replica reads alike; the cRLNumber is the
// window's start (seconds) in its high 32 bits and the revision in its low 32, so it grows with
// either, and two replicas serving the same content serve the same number (and the same ETag). The
// number also stays above the millisecond timestamps earlier releases used.

import type { RevokedEntry, Store } from '../store/types';
import { toPem } from './der';
import { encodeRevokedEntries, type EncodedCrlRequest } from './crl';

/** Relying parties may cache a CRL this long; a rebuild happens at least twice within it. */
export const CRL_MAX_VALIDITY_MS = 3600_000;
/** How long a relying service may reuse a response before revalidating (cheaply, with If-None-Match). */
export const CRL_MAX_AGE_SECONDS = 60;
/** Revoked serials read and encoded per step of a rebuild. */
export const CRL_PAGE = 1000;

export interface PublishedCrl {
  der: Buffer;
  /** PEM armour (ASCII), made on first use and kept. */
  pem(): Buffer;
  number: bigint;
  entries: number;
}

interface Signer {
  signCrl(req: EncodedCrlRequest): Promise<Buffer>;
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** The cRLNumber for a content version: window start (seconds) << 32 | revision. */
export function crlNumber(windowStart: number, revision: number): bigint {
  return (BigInt(Math.floor(windowStart / 1000)) << 32n) | BigInt(revision % 2 ** 32);
}

export class CrlPublisher {
  private cached?: { key: string; crl: PublishedCrl };
  private building?: { key: string; crl: Promise<PublishedCrl> };
  private readonly windowMs: number;

  constructor(
    private readonly store: Store,
    private readonly ca: Signer,
    private readonly opts: { now: () => Date; hostCertTtlMs: number; pageSize?: number },
  ) {
    this.windowMs = Math.max(Math.floor(Math.min(CRL_MAX_VALIDITY_MS, opts.hostCertTtlMs) / 2), 1000);
  }

  /** The CRL for the current revision and window: the cached one, or one rebuild shared by every caller. */
  async current(): Promise<PublishedCrl> {
    const now = this.opts.now();
    const windowStart = Math.floor(now.getTime() / this.windowMs) * this.windowMs;
    const revision = await this.store.nodes.crlRevision();
    const key = `${windowStart}:${revision}`;
    if (this.cached?.key === key) return this.cached.crl;
    if (this.building?.key !== key) {
      const crl = this.build(now, windowStart, revision);
      const building = { key, crl };
      this.building = building;
      crl.then(
        (built) => {
          if (this.building === building) this.cached = { key, crl: built };
        },
        () => undefined,
      ).finally(() => {
        if (this.building === building) this.building = undefined;
      });
    }
    return this.building.crl;
  }

  private async build(now: Date, windowStart: number, revision: number): Promise<PublishedCrl> {
    const unexpiredAt = new Date(windowStart);
    const revoked: Buffer[] = [];
    let entries = 0;
    let after: RevokedEntry | undefined;
    const limit = this.opts.pageSize ?? CRL_PAGE;
    for (;;) {
      const page = await this.store.nodes.revokedCertificates(unexpiredAt, { limit, after });
      if (page.length) revoked.push(encodeRevokedEntries(page));
      entries += page.length;
      if (page.length < limit) break;
      after = page[page.length - 1];
      await yieldToEventLoop();
    }
    const number = crlNumber(windowStart, revision);
    const der = await this.ca.signCrl({
      revoked,
      thisUpdate: now,
      nextUpdate: new Date(now.getTime() + Math.min(CRL_MAX_VALIDITY_MS, this.opts.hostCertTtlMs)),
      number,
    });
    let pem: Buffer | undefined;
    return { der, pem: () => (pem ??= Buffer.from(toPem(der, 'X509 CRL'), 'ascii')), number, entries };
  }
}

/** Whether an If-None-Match header names this ETag (weak comparison, RFC 9110 13.1.2). */
export function matchesEtag(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  const opaque = (tag: string) => tag.trim().replace(/^W\//, '');
  return ifNoneMatch.split(',').some((t) => t.trim() === '*' || opaque(t) === opaque(etag));
}
