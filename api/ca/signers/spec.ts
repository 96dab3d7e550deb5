// The CA key setting (JOINERY_CA_KEY, or `serve --ca-key`), read in one place:
//   file                      the PKCS#8 key in the data directory (<data-dir>/ca.key), as today
//   file:<path>               a PKCS#8 key file elsewhere
//   awskms:<key>              an AWS KMS ECC_NIST_P256 SIGN_VERIFY key: key ID, alias/<name>, or
//                             a key or alias ARN (whose region is the one called)
//   pkcs11:<RFC 7512 URI>     a key on a PKCS#11 token; the URI's query names the module
//                             (module-path=) and the PIN file (pin-source=file:<path>)
// Every error names the setting and says what a valid value looks like.

export type CaKeySpec =
  | { kind: 'file'; path?: string }
  | { kind: 'awskms'; keyId: string; region?: string }
  | { kind: 'pkcs11'; uri: Pkcs11Uri };

export interface Pkcs11Uri {
  /** The URI as given, for messages (it holds no secret: the PIN comes from a file). */
  text: string;
  modulePath: string;
  pinFile: string;
  token?: string;
  manufacturer?: string;
  serial?: string;
  model?: string;
  slotId?: number;
  /** CKA_LABEL of the key objects. */
  object?: string;
  /** CKA_ID of the key objects. */
  id?: Buffer;
}

export const CA_KEY_SETTING = 'JOINERY_CA_KEY';

const KMS_KEY = /^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32}|alias\/[A-Za-z0-9/_-]{1,250})$/;
const KMS_ARN = /^arn:(aws[a-z-]*):kms:([a-z]{2}(?:-[a-z]+)+-\d+):(\d{12}):(key\/[A-Za-z0-9-]{1,64}|alias\/[A-Za-z0-9/_-]{1,250})$/;

const EXAMPLES = 'file, file:/path/to/ca.key, awskms:alias/joinery-ca, awskms:arn:aws:kms:us-east-1:111122223333:key/<key id>, or pkcs11:token=joinery;object=ca-key?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/etc/joinery/hsm.pin';

export function parseCaKeySpec(value: string | undefined, setting = CA_KEY_SETTING): CaKeySpec {
  const spec = (value ?? '').trim();
  if (spec === '' || spec === 'file') return { kind: 'file' };
  const colon = spec.indexOf(':');
  const scheme = colon < 0 ? spec : spec.slice(0, colon);
  const rest = colon < 0 ? '' : spec.slice(colon + 1);
  const bad = (why: string) => new Error(`${setting}=${JSON.stringify(spec)}: ${why}`);
  switch (scheme) {
    case 'file':
      if (!rest.startsWith('/')) throw bad('file: needs an absolute path to a PKCS#8 key file (file:/path/to/ca.key), or just "file" for <data-dir>/ca.key');
      return { kind: 'file', path: rest };
    case 'awskms': {
      if (KMS_KEY.test(rest)) return { kind: 'awskms', keyId: rest };
      const arn = KMS_ARN.exec(rest);
      if (arn) return { kind: 'awskms', keyId: rest, region: arn[2] };
      throw bad('awskms: needs a KMS key ID (1234abcd-12ab-34cd-56ef-1234567890ab or mrk-…), alias/<name>, or a key or alias ARN (arn:aws:kms:<region>:<account>:key/<id>)');
    }
    case 'pkcs11':
      return { kind: 'pkcs11', uri: parsePkcs11Uri(spec, bad) };
    default:
      throw bad(`unknown CA key kind ${JSON.stringify(scheme)}; use one of: ${EXAMPLES}`);
  }
}

const PATH_ATTRIBUTES = new Set(['token', 'manufacturer', 'serial', 'model', 'slot-id', 'object', 'id', 'type']);
const QUERY_ATTRIBUTES = new Set(['module-path', 'pin-source']);

function percentDecode(raw: string, what: string, bad: (why: string) => Error): Buffer {
  if (/%(?![0-9a-fA-F]{2})/.test(raw)) throw bad(`${what} has a malformed percent-encoding`);
  const out: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === '%') {
      out.push(parseInt(raw.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      out.push(...Buffer.from(raw[i], 'utf8'));
    }
  }
  return Buffer.from(out);
}

function attributes(part: string, separator: string, allowed: Set<string>, where: string, bad: (why: string) => Error): Map<string, Buffer> {
  const found = new Map<string, Buffer>();
  if (part === '') return found;
  for (const item of part.split(separator)) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw bad(`"${item}" in the ${where} is not name=value`);
    const name = item.slice(0, eq).toLowerCase();
    if (name === 'pin-value') throw bad('a PIN in the URI (pin-value) would sit in the environment and the process list; put it in a file readable only by the server and give pin-source=file:<path>');
    if (name === 'module-name') throw bad('module-name needs a library search this server does not do; give the module with module-path=<absolute path to the .so>');
    if (!allowed.has(name)) throw bad(`unknown PKCS#11 URI ${where} attribute "${name}" (this server reads ${[...allowed].join(', ')})`);
    if (found.has(name)) throw bad(`PKCS#11 URI attribute "${name}" appears twice`);
    found.set(name, percentDecode(item.slice(eq + 1), `attribute "${name}"`, bad));
  }
  return found;
}

function parsePkcs11Uri(spec: string, bad: (why: string) => Error): Pkcs11Uri {
  const body = spec.slice('pkcs11:'.length);
  const q = body.indexOf('?');
  const path = attributes(q < 0 ? body : body.slice(0, q), ';', PATH_ATTRIBUTES, 'path', bad);
  const query = attributes(q < 0 ? '' : body.slice(q + 1), '&', QUERY_ATTRIBUTES, 'query', bad);
  const text = (name: string, m: Map<string, Buffer>) => m.get(name)?.toString('utf8');

  const modulePath = text('module-path', query);
  if (!modulePath?.startsWith('/')) throw bad('the PKCS#11 URI needs module-path=<absolute path to the PKCS#11 library> in its query (e.g. ?module-path=/usr/lib/softhsm/libsofthsm2.so)');
  const pinSource = text('pin-source', query);
  if (!pinSource) throw bad('the PKCS#11 URI needs pin-source=file:<path> in its query: the token PIN is read from that file (mode 0600)');
  // file:/p and file:///p (RFC 8089); file://host/p names another machine, which is no PIN file.
  const pinFile = pinSource.startsWith('file:') ? pinSource.slice('file:'.length).replace(/^\/\/(?=\/)/, '') : pinSource;
  if (!pinFile.startsWith('/') || pinFile.startsWith('//') || pinFile.includes('\0')) throw bad(`pin-source must be file:<absolute path>, got ${JSON.stringify(pinSource)}`);

  const type = text('type', path);
  if (type !== undefined && type !== 'private') throw bad(`type=${type} names no signing key; the CA key is type=private (or leave type out)`);
  const object = text('object', path);
  const id = path.get('id');
  if (object === undefined && id === undefined) throw bad('the PKCS#11 URI must name the key with object=<label> or id=<%-encoded CKA_ID> (or both)');
  const slot = text('slot-id', path);
  if (slot !== undefined && !/^\d{1,10}$/.test(slot)) throw bad(`slot-id must be a decimal number, got ${JSON.stringify(slot)}`);

  return {
    text: spec,
    modulePath,
    pinFile,
    token: text('token', path),
    manufacturer: text('manufacturer', path),
    serial: text('serial', path),
    model: text('model', path),
    slotId: slot === undefined ? undefined : Number(slot),
    object,
    id,
  };
}

/** The setting's value for a parsed spec (what a CA rotation records for each CA). */
export function formatCaKeySpec(spec: CaKeySpec): string {
  switch (spec.kind) {
    case 'file':
      return spec.path ? `file:${spec.path}` : 'file';
    case 'awskms':
      return `awskms:${spec.keyId}`;
    case 'pkcs11':
      return spec.uri.text;
  }
}
