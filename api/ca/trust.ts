// The CAs a server trusts and signs with, following the rotation row (api/ca/rotation.ts). Every
// replica reads the row every few seconds (one primary-key read) and after its own changes; a new
// row opens the CAs it names (a key file, a KMS key, a PKCS#11 key) and tells the listeners, so
// the server swaps its TLS certificate and trust without a restart.

import { X509Certificate, generateKeyPairSync, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Store } from '../store/types';
import { ClusterCA, caPin, type OpenClusterCaOptions } from './ca';
import {
  ROTATION_SETTING,
  RotationError,
  advance,
  begin,
  hostIssuerRecord,
  nextPhase,
  parseRotationState,
  phaseEndsAt,
  rotationInProgress,
  serverIssuerRecord,
  trustedRecords,
  type CaRecord,
  type RotationPhase,
  type RotationState,
} from './rotation';
import { formatCaKeySpec, parseCaKeySpec } from './signers/spec';

/** How often a replica reads the rotation row. */
export const ROTATION_POLL_MS = 2_000;
/** A CA no longer trusted keeps its signer this long, for requests already signing with it. */
const CLOSE_DELAY_MS = 30_000;

export interface TrustOptions extends OpenClusterCaOptions {
  /** PKCS#11 libraries a rotation may load besides those of the CAs the cluster trusts (JOINERY_PKCS11_MODULES). */
  pkcs11Modules?: readonly string[];
  /** Host certificate lifetime: an automatic rotation's phases last two of them by default. */
  hostCertTtlMs: number;
  warn?: (msg: string) => void;
}

export interface RotateRequest {
  /** Move to this phase (a rotation in progress); without it and without rollback, start one. */
  phase?: RotationPhase;
  rollback?: boolean;
  manual?: boolean;
  graceMs?: number;
  /** Where the new CA's key is (a CA key setting's value); default: a new key file for a file CA. */
  newKey?: string;
}

export interface TrustedCaView {
  pin: string;
  /** `current`: the CA of standby (the old one during a rotation); `next`: the new one. */
  state: 'current' | 'next';
  signs: ('host_certificates' | 'server_certificate')[];
  not_after: string;
  certificate: string;
}

export interface RotationView {
  phase: RotationPhase;
  /**
   * The phase the database records, when this server cannot follow it (it cannot open a CA key
   * the row names): it serves on with `phase` meanwhile, and logs why.
   */
  recorded_phase?: string;
  mode: 'manual' | 'auto';
  phase_started_at: string;
  next_phase?: RotationPhase;
  next_phase_at?: string;
  cas: TrustedCaView[];
}

/** The phase of a rotation row this server could not follow (what `status` shows beside its own). */
function recordedPhase(text: string): string {
  try {
    const phase = (JSON.parse(text) as { phase?: unknown }).phase;
    return typeof phase === 'string' ? phase.slice(0, 32) : 'unknown';
  } catch {
    return 'unknown';
  }
}

function concurrentChange(): RotationError {
  return new RotationError('rotation_in_progress', 'another request changed the rotation at the same time; look at joinery status and try again');
}

export class CaTrust {
  private cas = new Map<string, ClusterCA>();
  /** CAs no longer trusted, closing after CLOSE_DELAY_MS; close() closes them at once. */
  private readonly closing = new Set<ClusterCA>();
  private listeners: (() => void | Promise<void>)[] = [];
  private stateText?: string;
  private failedText?: string;
  /** A listener failed on the row now followed (the server's new TLS certificate could not be signed): retried at each refresh. */
  private listenersFailed = false;
  /** Pins by certificate: the issuers are looked up on every join and renewal. */
  private readonly pins = new Map<string, string>();

  private constructor(
    private state: RotationState,
    private readonly opts: TrustOptions,
  ) {}

  /**
   * Opens the CAs the rotation row names; before any rotation, the CA the key setting names
   * (created on the cluster's first start).
   */
  static async open(opts: TrustOptions): Promise<CaTrust> {
    const text = await opts.store.settings.get(ROTATION_SETTING);
    if (text === undefined) {
      const ca = await ClusterCA.open(opts);
      const key = formatCaKeySpec(opts.key ?? { kind: 'file' });
      const trust = new CaTrust({ phase: 'standby', current: { cert_pem: ca.certPem, key }, mode: 'manual', grace_ms: 0, phase_started_at: new Date(0).toISOString(), retired: [] }, opts);
      trust.cas.set(ca.pin, ca);
      return trust;
    }
    const state = parseRotationState(text);
    const trust = new CaTrust(state, opts);
    await trust.apply(state, text);
    return trust;
  }

  /** One CA, no rotation (tests that build services by hand). */
  static fixed(ca: ClusterCA, store: Store): CaTrust {
    const trust = new CaTrust({ phase: 'standby', current: { cert_pem: ca.certPem, key: 'file' }, mode: 'manual', grace_ms: 0, phase_started_at: new Date(0).toISOString(), retired: [] }, { dataDir: '', clusterName: ca.clusterName, store, hostCertTtlMs: 0 });
    trust.cas.set(ca.pin, ca);
    return trust;
  }

  get phase(): RotationPhase {
    return this.state.phase;
  }

  /** Signs host certificates at join and renewal. */
  get hostIssuer(): ClusterCA {
    return this.byRecord(hostIssuerRecord(this.state));
  }

  /** Signs the server's TLS certificate. */
  get serverIssuer(): ClusterCA {
    return this.byRecord(serverIssuerRecord(this.state));
  }

  get trusted(): ClusterCA[] {
    return trustedRecords(this.state).map((r) => this.byRecord(r));
  }

  /** Every trusted CA certificate: what joins and renewals answer as ca_certificates. */
  bundle(): string[] {
    return this.trusted.map((ca) => ca.certPem);
  }

  /** The trusted CA `pin` names, if any. */
  byPin(pin: string): ClusterCA | undefined {
    return this.trusted.find((ca) => ca.pin === pin);
  }

  /**
   * The trusted CA that signed `cert`. With one CA and a chain the TLS handshake verified, the
   * issuer's name is enough (every CA has a subject of its own); with two, the signature says which.
   * The name is checked even then: a keep-alive connection keeps the trust of its handshake, so one
   * opened while the old CA was trusted still says "verified" after standby dropped it.
   */
  issuerOf(cert: X509Certificate, chainVerified: boolean): ClusterCA | undefined {
    const trusted = this.trusted;
    if (chainVerified && trusted.length === 1 && cert.checkIssued(trusted[0].certificate)) return trusted[0];
    return trusted.find((ca) => cert.checkIssued(ca.certificate) && cert.verify(ca.publicKey));
  }

  /** The pin of a CA a rotation dropped that signed `cert`, if one did. */
  retiredIssuerPin(cert: X509Certificate): string | undefined {
    for (const pem of this.state.retired) {
      const ca = new X509Certificate(pem);
      if (cert.checkIssued(ca) && cert.verify(ca.publicKey)) return caPin(pem);
    }
    return undefined;
  }

  view(): RotationView {
    const host = hostIssuerRecord(this.state);
    const server = serverIssuerRecord(this.state);
    const ends = phaseEndsAt(this.state);
    const next = nextPhase(this.state.phase);
    const behind = this.failedText === undefined ? undefined : recordedPhase(this.failedText);
    return {
      phase: this.state.phase,
      ...(behind ? { recorded_phase: behind } : {}),
      mode: this.state.mode,
      phase_started_at: this.state.phase_started_at,
      ...(next ? { next_phase: next } : {}),
      ...(ends ? { next_phase_at: ends.toISOString() } : {}),
      cas: trustedRecords(this.state).map((r) => {
        const ca = this.byRecord(r);
        const signs: TrustedCaView['signs'] = [];
        if (r === host) signs.push('host_certificates');
        if (r === server) signs.push('server_certificate');
        return { pin: ca.pin, state: r === this.state.current ? 'current' : 'next', signs, not_after: new Date(ca.certificate.validTo).toISOString(), certificate: ca.certPem };
      }),
    };
  }

  /** Called after every change of the trusted CAs or the issuers (the server swaps its TLS context). */
  onChange(listener: () => void | Promise<void>): void {
    this.listeners.push(listener);
  }

  /** Reads the rotation row and follows it if it changed. */
  async refresh(): Promise<void> {
    const text = await this.opts.store.settings.get(ROTATION_SETTING);
    if (text === undefined || (text === this.stateText && !this.listenersFailed)) return;
    try {
      await this.apply(parseRotationState(text), text);
    } catch (err) {
      // Keep serving with what is open, and try again at every refresh (the key file may be
      // copied here later); say why once per row.
      if (text !== this.failedText) this.opts.warn?.(`cannot follow the CA rotation in the database: ${(err as Error).message}`);
      this.failedText = text;
    }
  }

  /** Advances an automatic rotation whose phase is over; once across replicas. */
  async tick(now: Date): Promise<boolean> {
    await this.refresh();
    const ends = phaseEndsAt(this.state);
    const target = nextPhase(this.state.phase);
    if (!ends || !target || now.getTime() < ends.getTime()) return false;
    return this.commit(advance(this.state, target, now));
  }

  /** `joinery ca rotate`: starts a rotation, moves it to a phase, or rolls it back. */
  async rotate(req: RotateRequest, now: Date): Promise<RotationView> {
    await this.refresh();
    // Its own state is stale: a change computed from it would lose the compare-and-set anyway,
    // and "changed at the same time" would hide the cause.
    if (this.failedText !== undefined) {
      throw new RotationError(
        'rotation_not_followed',
        `this server cannot follow the CA rotation the database records (phase ${recordedPhase(this.failedText)}; its log says why: "cannot follow the CA rotation"); change the rotation through a server that follows it, or give this one the CA key it needs`,
      );
    }
    let next: RotationState;
    if (req.rollback) {
      next = advance(this.state, 'rollback', now);
    } else if (req.phase) {
      next = advance(this.state, req.phase, now);
    } else {
      const graceMs = req.graceMs ?? 2 * this.opts.hostCertTtlMs;
      // Refused before a key is made: a second start must not leave a key file behind.
      if (this.state.phase !== 'standby') throw rotationInProgress(this.state);
      const created = await this.createCa(req.newKey);
      let written = false;
      try {
        // The state read before the key was made: another start may have won meanwhile.
        next = begin(this.state, { cert_pem: created.certPem, key: created.key }, { mode: req.manual ? 'manual' : 'auto', graceMs }, now);
        this.cas.set(created.ca.pin, created.ca);
        await this.commit(next, () => (written = true));
      } finally {
        // A start that lost leaves nothing behind: no open signer, no key file nobody will use.
        if (!written) await this.discard(created);
      }
      if (!written) throw concurrentChange();
      return this.view();
    }
    if (!(await this.commit(next))) throw concurrentChange();
    return this.view();
  }

  private async discard(created: { ca: ClusterCA; file?: string }): Promise<void> {
    // Following another replica's row may already have replaced it (a start on the same key) or dropped it.
    if (this.cas.get(created.ca.pin) === created.ca && !trustedRecords(this.state).some((r) => r.cert_pem === created.ca.certPem)) this.cas.delete(created.ca.pin);
    if (![...this.cas.values()].includes(created.ca)) {
      this.closing.delete(created.ca);
      await created.ca.close().catch(() => undefined);
    }
    if (created.file) fs.rmSync(created.file, { force: true });
  }

  async close(): Promise<void> {
    // The dropped ones too: a PKCS#11 module stays initialised while any signer of it is open.
    const all = [...this.cas.values(), ...this.closing];
    this.cas.clear();
    this.closing.clear();
    await Promise.all(all.map((ca) => ca.close().catch(() => undefined)));
  }

  /** Writes `next` if the row is still what this replica read; then follows it. */
  private async commit(next: RotationState, written?: () => void): Promise<boolean> {
    const text = JSON.stringify(next);
    const ok = await this.opts.store.settings.compareAndSet(ROTATION_SETTING, this.stateText, text);
    if (!ok) {
      await this.refresh();
      return false;
    }
    written?.();
    // The cluster CA record follows the current CA: it is what a server checks its key against.
    if (next.current.cert_pem !== this.state.current.cert_pem) await this.opts.store.settings.set('ca_cert_pem', next.current.cert_pem);
    await this.apply(next, text);
    return true;
  }

  private async createCa(newKey: string | undefined): Promise<{ ca: ClusterCA; certPem: string; key: string; file?: string }> {
    let key = newKey;
    let file: string | undefined;
    if (key === undefined) {
      if (parseCaKeySpec(this.state.current.key).kind !== 'file') {
        throw new RotationError('new_key_required', `the current CA key is ${this.state.current.key.split(':')[0]}; name the new CA's key with --new-key (new_key), e.g. awskms:<key ARN> or pkcs11:<URI>`);
      }
      // A new key file beside ca.key; replicas on file keys need a copy of it before the rotation.
      // The time for the reader, a random tail so two starts in one millisecond get two files.
      file = path.join(this.opts.dataDir, `ca-${Date.now()}-${randomBytes(4).toString('hex')}.key`);
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
      fs.writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, { mode: 0o600, flag: 'wx' });
      key = `file:${file}`;
    }
    try {
      return { ...(await this.openNewCa(key)), file };
    } catch (err) {
      if (file) fs.rmSync(file, { force: true });
      throw err;
    }
  }

  private pkcs11ModulesAllowed(): string[] {
    const specs = [...(this.opts.key ? [this.opts.key] : []), ...trustedRecords(this.state).map((r) => parseCaKeySpec(r.key))];
    const inUse = specs.flatMap((s) => (s.kind === 'pkcs11' ? [path.normalize(s.uri.modulePath)] : []));
    return [...inUse, ...(this.opts.pkcs11Modules ?? [])];
  }

  private async openNewCa(key: string): Promise<{ ca: ClusterCA; certPem: string; key: string }> {
    let spec;
    try {
      spec = parseCaKeySpec(key, 'new_key');
    } catch (err) {
      throw new RotationError('invalid_new_key', (err as Error).message);
    }
    // Opening a PKCS#11 key loads the library the URI names, and a library runs its code in the
    // server: the admin credential must not reach that far. The modules the cluster's CAs use,
    // and those the operator lists, are the ones a rotation may load.
    if (spec.kind === 'pkcs11' && !this.pkcs11ModulesAllowed().includes(path.normalize(spec.uri.modulePath))) {
      throw new RotationError(
        'invalid_new_key',
        `module-path ${spec.uri.modulePath} is not a PKCS#11 library this server may load; the operator lists it in JOINERY_PKCS11_MODULES (colon-separated) on every replica, or it is the one JOINERY_CA_KEY uses`,
      );
    }
    try {
      const ca = await ClusterCA.create({ ...this.opts, key: spec });
      if (trustedRecords(this.state).some((r) => this.pinOf(r) === ca.pin)) {
        await ca.close();
        throw new RotationError('invalid_new_key', `the new key ${ca.signer.describe()} is the key of a CA the cluster trusts now; a rotation needs another key`);
      }
      // A rotation is often for a key that leaked: going back to a dropped key would undo it.
      if (this.state.retired.some((pem) => caPin(pem) === ca.pin)) {
        await ca.close();
        throw new RotationError('invalid_new_key', `the new key ${ca.signer.describe()} is the key of a CA an earlier rotation dropped (${ca.pin}); a rotation needs a key the cluster has not used`);
      }
      return { ca, certPem: ca.certPem, key: formatCaKeySpec(spec) };
    } catch (err) {
      if (err instanceof RotationError) throw err;
      throw new RotationError('invalid_new_key', `the new CA key cannot be used: ${(err as Error).message}`);
    }
  }

  private async apply(state: RotationState, text: string): Promise<void> {
    const wanted = trustedRecords(state);
    for (const record of wanted) {
      const pin = this.pinOf(record);
      const open = this.cas.get(pin);
      // Same key, another certificate: a start that lost a race on the same new key made its own.
      if (open && open.certPem === record.cert_pem) continue;
      this.cas.set(pin, await ClusterCA.fromRecord(record, this.opts));
      if (open) this.closeLater(open);
    }
    const keep = new Set(wanted.map((r) => this.pinOf(r)));
    for (const [pin, ca] of this.cas) {
      if (keep.has(pin)) continue;
      this.cas.delete(pin);
      this.closeLater(ca);
    }
    const changed = text !== this.stateText;
    this.state = state;
    this.stateText = text;
    this.failedText = undefined;
    if (!changed && !this.listenersFailed) return;
    // The row is written and followed; what a listener could not do yet (a TLS certificate from a
    // KMS key that failed to sign) is tried again at the next refresh, every ROTATION_POLL_MS.
    // Left undone, a replica would keep the old CA's TLS certificate after standby, which hosts
    // no longer trust.
    try {
      for (const listener of this.listeners) await listener();
      this.listenersFailed = false;
    } catch (err) {
      this.listenersFailed = true;
      this.opts.warn?.(`the CA rotation is in phase ${state.phase}, but this server could not follow it yet (trying again every ${ROTATION_POLL_MS / 1000} s): ${(err as Error).message}`);
    }
  }

  /** A CA no longer trusted keeps its signer CLOSE_DELAY_MS for requests already signing with it. */
  private closeLater(ca: ClusterCA): void {
    this.closing.add(ca);
    setTimeout(() => {
      // close() or discard() may have closed it already: a PKCS#11 signer released twice would finalize the module under another.
      if (this.closing.delete(ca)) void ca.close().catch(() => undefined);
    }, CLOSE_DELAY_MS).unref();
  }

  private pinOf(record: CaRecord): string {
    let pin = this.pins.get(record.cert_pem);
    if (!pin) this.pins.set(record.cert_pem, (pin = caPin(record.cert_pem)));
    return pin;
  }

  private byRecord(record: CaRecord): ClusterCA {
    const ca = this.cas.get(this.pinOf(record));
    if (!ca) throw new Error(`the CA ${this.pinOf(record)} is not open`);
    return ca;
  }
}

