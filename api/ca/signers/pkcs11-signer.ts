// The CA key on a PKCS#11 token (an HSM, a cloud HSM, SoftHSM2 in tests), named by an RFC 7512
// URI. The token computes CKM_ECDSA over the SHA-256 we hand it and answers r || s, which becomes
// the DER ECDSA-Sig-Value X.509 carries. The private key never leaves the token (with a network
// or hardware HSM it is never in this process; SoftHSM2, a library, keeps it in its own memory).
// The PIN is read from a file (pin-source=file:…) at login and not kept: a lost session (an HSM
// restart) reads it again.

import { createPublicKey, type KeyObject } from 'node:crypto';
import type * as P from 'pkcs11js';
import { bitString, oid, seq } from '../der';
import { PacedCaller, type KeyServicePacing } from './retry';
import { readSecretFile } from './secret-file';
import { CA_SIGNING_ALGORITHM, CaSigningError, rawToDerSignature, requireP256, sha256, verifies, type CaSigner } from './signer';
import type { Pkcs11Uri } from './spec';

type Pkcs11Module = typeof P;

/** DER of the namedCurve OID prime256v1, as CKA_EC_PARAMS holds it. */
const P256_PARAMS = oid('1.2.840.10045.3.1.7');
const EC_PUBLIC_KEY_ALGORITHM = seq(oid('1.2.840.10045.2.1'), P256_PARAMS);

/**
 * PKCS#11 has no "busy" code; a token short of memory or sessions under load says so with these,
 * and they pass with time. The pacer backs off and retries them like a throttled KMS.
 */
const BUSY = ['CKR_DEVICE_MEMORY', 'CKR_SESSION_COUNT', 'CKR_FUNCTION_REJECTED'];
/** The session or login is gone (token reset, HSM restart, network HSM reconnect): log in again. */
const SESSION_LOST = ['CKR_SESSION_HANDLE_INVALID', 'CKR_SESSION_CLOSED', 'CKR_USER_NOT_LOGGED_IN', 'CKR_DEVICE_REMOVED', 'CKR_TOKEN_NOT_PRESENT', 'CKR_DEVICE_ERROR', 'CKR_OPERATION_ACTIVE'];

export const DEFAULT_PKCS11_PACING: KeyServicePacing = { callsPerSecond: 1000, maxWaitMs: 30_000 };

/** One loaded, initialised module per library path: PKCS#11 allows C_Initialize once per process. */
const modules = new Map<string, { lib: P.PKCS11; users: number }>();

/**
 * The binding, loaded on first use: it is an optional dependency compiled on install (node-gyp),
 * so a machine without build tools still installs Joinery and only PKCS#11 keys are unavailable.
 */
async function loadBinding(): Promise<Pkcs11Module> {
  try {
    return (await import('pkcs11js')) as Pkcs11Module;
  } catch (err) {
    throw new Error(
      `PKCS#11 CA keys need the pkcs11js module, which is not installed or did not build here (${(err as Error).message.split('\n')[0]}); ` +
        'install python3, make and a C++ compiler, then run npm rebuild pkcs11js in the Joinery installation',
      { cause: err },
    );
  }
}

async function acquireModule(path: string): Promise<{ mod: Pkcs11Module; lib: P.PKCS11 }> {
  const mod = await loadBinding();
  let entry = modules.get(path);
  if (!entry) {
    const lib = new mod.PKCS11();
    try {
      lib.load(path);
    } catch (err) {
      throw new Error(`cannot load the PKCS#11 module ${path}: ${(err as Error).message}`, { cause: err });
    }
    try {
      lib.C_Initialize({ flags: mod.CKF_OS_LOCKING_OK });
    } catch (err) {
      if ((err as P.Pkcs11Error).code !== mod.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
        lib.close();
        throw new Error(`the PKCS#11 module ${path} failed to initialise: ${(err as Error).message}`, { cause: err });
      }
    }
    entry = { lib, users: 0 };
    modules.set(path, entry);
  }
  entry.users++;
  return { mod, lib: entry.lib };
}

function releaseModule(path: string): void {
  const entry = modules.get(path);
  if (!entry || --entry.users > 0) return;
  modules.delete(path);
  try {
    entry.lib.C_Finalize();
  } finally {
    entry.lib.close();
  }
}

function codeName(mod: Pkcs11Module, err: unknown): string | undefined {
  const code = (err as P.Pkcs11Error)?.code;
  if (typeof code !== 'number') return undefined;
  return Object.keys(mod).find((k) => k.startsWith('CKR_') && (mod as unknown as Record<string, unknown>)[k] === code);
}

/** Reads the PIN file, refused as the CA key file is (secret-file.ts). */
function readPin(file: string): string {
  const pin = readSecretFile(file, 'the PKCS#11 PIN file').toString('utf8').replace(/\r?\n$/, '');
  if (pin === '') throw new Error(`the PKCS#11 PIN file ${file} is empty`);
  return pin;
}

/** The slot handle as a number, for slot-id= (pkcs11js gives CK_SLOT_ID as little-endian bytes). */
function slotNumber(handle: Buffer): number {
  let n = 0;
  for (let i = handle.length - 1; i >= 0; i--) n = n * 256 + handle[i];
  return n;
}

/** CKA_EC_POINT is a DER OCTET STRING around the uncompressed point; some tokens give it bare. */
function ecPoint(value: Buffer): Buffer {
  if (value.length === 67 && value[0] === 0x04 && value[1] === 65 && value[2] === 0x04) return value.subarray(2);
  if (value.length === 65 && value[0] === 0x04) return value;
  throw new Error(`the token's CKA_EC_POINT is not an uncompressed P-256 point (${value.length} bytes)`);
}

export interface Pkcs11SignerOptions {
  uri: Pkcs11Uri;
  pacing?: Partial<KeyServicePacing>;
}

export class Pkcs11Signer implements CaSigner {
  readonly algorithm = CA_SIGNING_ALGORITHM;
  private session?: Buffer;
  private key?: Buffer;
  /** One operation at a time on the session (PKCS#11 sessions are not concurrent). */
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  private readonly caller: PacedCaller;

  private constructor(
    private readonly mod: Pkcs11Module,
    private readonly lib: P.PKCS11,
    private readonly uri: Pkcs11Uri,
    private readonly slot: Buffer,
    private readonly tokenLabel: string,
    readonly publicKey: KeyObject,
    pacing: Partial<KeyServicePacing> | undefined,
  ) {
    this.caller = new PacedCaller(
      { ...DEFAULT_PKCS11_PACING, ...pacing },
      {
        isThrottling: (e) => BUSY.includes(codeName(mod, e) ?? ''),
        isTransient: (e) => SESSION_LOST.includes(codeName(mod, e) ?? ''),
        recover: () => this.reopen(),
      },
    );
  }

  static async open(opts: Pkcs11SignerOptions): Promise<Pkcs11Signer> {
    const { uri } = opts;
    const { mod, lib } = await acquireModule(uri.modulePath);
    let signer: Pkcs11Signer | undefined;
    try {
      const { slot, label } = findToken(mod, lib, uri);
      const session = lib.C_OpenSession(slot, mod.CKF_SERIAL_SESSION);
      let publicKey: KeyObject;
      try {
        login(mod, lib, session, uri, label);
        publicKey = readPublicKey(mod, lib, session, uri);
      } finally {
        lib.C_CloseSession(session);
      }
      signer = new Pkcs11Signer(mod, lib, uri, slot, label, publicKey, opts.pacing);
      // One signature at start proves the PIN, the key and that it is the public key's pair.
      await signer.sign(Buffer.from('joinery CA key check'));
      return signer;
    } catch (err) {
      if (signer) await signer.close();
      else releaseModule(uri.modulePath);
      throw err;
    }
  }

  sign(tbs: Buffer): Promise<Buffer> {
    if (this.closed) return Promise.reject(new CaSigningError(`the CA signer for ${this.describe()} is closed`));
    const digest = sha256(tbs);
    const run = () => this.caller.call(() => this.signDigest(digest));
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => undefined);
    return next.then(
      (raw) => {
        const der = rawToDerSignature(raw);
        if (!verifies(tbs, this.publicKey, der)) {
          throw new CaSigningError(`the PKCS#11 key ${this.describe()} returned a signature its public key does not verify; nothing was issued`);
        }
        return der;
      },
      (err: unknown) => {
        throw new CaSigningError(`the PKCS#11 key ${this.describe()} could not sign: ${(err as Error)?.message ?? String(err)}`, { cause: err });
      },
    );
  }

  private async signDigest(digest: Buffer): Promise<Buffer> {
    if (!this.session || !this.key) this.openSession();
    this.lib.C_SignInit(this.session!, { mechanism: this.mod.CKM_ECDSA }, this.key!);
    return this.lib.C_SignAsync(this.session!, digest, Buffer.alloc(64));
  }

  private openSession(): void {
    const session = this.lib.C_OpenSession(this.slot, this.mod.CKF_SERIAL_SESSION);
    try {
      login(this.mod, this.lib, session, this.uri, this.tokenLabel);
      this.key = findKey(this.mod, this.lib, session, this.uri, this.mod.CKO_PRIVATE_KEY);
      this.session = session;
    } catch (err) {
      this.lib.C_CloseSession(session);
      throw err;
    }
  }

  /** After a lost session: drop it, so the retry opens and logs in afresh. */
  private reopen(): void {
    if (this.session) {
      try {
        this.lib.C_CloseSession(this.session);
      } catch {
        // already gone with the token
      }
    }
    this.session = undefined;
    this.key = undefined;
  }

  describe(): string {
    const name = [this.uri.object && `object=${this.uri.object}`, this.uri.id && `id=${this.uri.id.toString('hex')}`].filter(Boolean).join(' ');
    return `pkcs11 token "${this.tokenLabel}" ${name} (module ${this.uri.modulePath})`;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue;
    this.reopen();
    releaseModule(this.uri.modulePath);
  }
}

function findToken(mod: Pkcs11Module, lib: P.PKCS11, uri: Pkcs11Uri): { slot: Buffer; label: string } {
  const matches: { slot: Buffer; label: string }[] = [];
  const seen: string[] = [];
  for (const slot of lib.C_GetSlotList(true)) {
    const info = lib.C_GetTokenInfo(slot);
    // A blank token (SoftHSM2 always offers one for initialising) holds no key.
    if (!(info.flags & mod.CKF_TOKEN_INITIALIZED)) continue;
    const label = info.label.trimEnd();
    seen.push(`"${label}" (slot ${slotNumber(slot)})`);
    if (uri.token !== undefined && uri.token !== label) continue;
    if (uri.manufacturer !== undefined && uri.manufacturer !== info.manufacturerID.trimEnd()) continue;
    if (uri.serial !== undefined && uri.serial !== info.serialNumber.trimEnd()) continue;
    if (uri.model !== undefined && uri.model !== info.model.trimEnd()) continue;
    if (uri.slotId !== undefined && uri.slotId !== slotNumber(slot)) continue;
    matches.push({ slot, label });
  }
  if (matches.length === 0) throw new Error(`no PKCS#11 token matches ${uri.text.replace(/\?.*$/, '')} in ${uri.modulePath} (tokens present: ${seen.join(', ') || 'none'})`);
  if (matches.length > 1) throw new Error(`${matches.length} PKCS#11 tokens match ${uri.text.replace(/\?.*$/, '')}; name one with token=, serial= or slot-id=`);
  return matches[0];
}

function login(mod: Pkcs11Module, lib: P.PKCS11, session: Buffer, uri: Pkcs11Uri, label: string): void {
  try {
    lib.C_Login(session, mod.CKU_USER, readPin(uri.pinFile));
  } catch (err) {
    const name = codeName(mod, err);
    if (name === 'CKR_USER_ALREADY_LOGGED_IN') return; // another signer of this process on the same token
    if (name === 'CKR_PIN_INCORRECT') throw new Error(`the PIN in ${uri.pinFile} is wrong for PKCS#11 token "${label}"`, { cause: err });
    if (name === 'CKR_PIN_LOCKED') throw new Error(`PKCS#11 token "${label}" has locked its user PIN; unlock it with the SO PIN`, { cause: err });
    throw err;
  }
}

function findKey(mod: Pkcs11Module, lib: P.PKCS11, session: Buffer, uri: Pkcs11Uri, cls: number): Buffer {
  const template: P.Template = [{ type: mod.CKA_CLASS, value: cls }, { type: mod.CKA_KEY_TYPE, value: mod.CKK_EC }];
  if (uri.object !== undefined) template.push({ type: mod.CKA_LABEL, value: uri.object });
  if (uri.id !== undefined) template.push({ type: mod.CKA_ID, value: uri.id });
  lib.C_FindObjectsInit(session, template);
  let found: Buffer[];
  try {
    found = lib.C_FindObjects(session, 2);
  } finally {
    lib.C_FindObjectsFinal(session);
  }
  const what = `${cls === mod.CKO_PRIVATE_KEY ? 'private' : 'public'} EC key ${[uri.object !== undefined && `object=${uri.object}`, uri.id && `id=${uri.id.toString('hex')}`].filter(Boolean).join(' ')}`;
  if (found.length === 0) throw new Error(`the PKCS#11 token has no ${what} (after login)`);
  if (found.length > 1) throw new Error(`the PKCS#11 token has several ${what}s; name one key with both object= and id=`);
  return found[0];
}

/** The SPKI of the key pair, from its public key object's CKA_EC_PARAMS and CKA_EC_POINT. */
function readPublicKey(mod: Pkcs11Module, lib: P.PKCS11, session: Buffer, uri: Pkcs11Uri): KeyObject {
  const handle = findKey(mod, lib, session, uri, mod.CKO_PUBLIC_KEY);
  const [params, point] = lib.C_GetAttributeValue(session, handle, [{ type: mod.CKA_EC_PARAMS }, { type: mod.CKA_EC_POINT }]);
  if (!(params.value instanceof Buffer) || !params.value.equals(P256_PARAMS)) {
    throw new Error(`the PKCS#11 key ${uri.object ?? uri.id?.toString('hex')} is not on P-256; the cluster CA needs an EC P-256 key`);
  }
  const spki = seq(EC_PUBLIC_KEY_ALGORITHM, bitString(ecPoint(point.value as Buffer)));
  return requireP256(createPublicKey({ key: spki, format: 'der', type: 'spki' }), `PKCS#11 key ${uri.object ?? ''}`);
}
