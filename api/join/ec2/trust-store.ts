// The certificates trusted to sign EC2 instance identity documents, per region: AWS's published
// RSA-2048 certificates, plus any the operator adds through configuration (a region AWS opened
// after this release; a test CA in tests). Nothing else can add to this set: certificates carried
// inside a submitted PKCS#7 are never trusted.

import * as fs from 'node:fs';
import * as pkijs from 'pkijs';
import type { ServerConfig } from '../../config';
import { AWS_RSA2048_CERTIFICATES } from './aws-certificates';

export interface TrustedCertificate {
  region: string;
  /** Where it came from: AWS's documentation or the operator's file. */
  source: string;
  cert: pkijs.Certificate;
}

/** A region name as AWS spells them; loose on purpose so a new naming scheme still loads. */
const REGION_NAME_RE = /^[a-z]{2,8}(?:-[a-z0-9]{1,16}){2,4}$/;
const PEM_CERT_RE = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+?)-----END CERTIFICATE-----/g;

export class Ec2TrustConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Ec2TrustConfigError';
  }
}

/** Parses every certificate in a PEM text; throws when there is none or one does not parse. */
export function parsePemCertificates(pem: string, what: string): pkijs.Certificate[] {
  const certs: pkijs.Certificate[] = [];
  for (const m of pem.matchAll(PEM_CERT_RE)) {
    const der = Buffer.from(m[1].replace(/\s+/g, ''), 'base64');
    try {
      certs.push(pkijs.Certificate.fromBER(new Uint8Array(der)));
    } catch (e) {
      throw new Ec2TrustConfigError(`${what}: certificate ${certs.length + 1} is not a valid X.509 certificate (${(e as Error).message})`);
    }
  }
  if (certs.length === 0) throw new Ec2TrustConfigError(`${what} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  return certs;
}

export class Ec2TrustStore {
  private constructor(private readonly byRegion: ReadonlyMap<string, readonly TrustedCertificate[]>) {}

  /** AWS's certificates plus the operator's extra files; throws Ec2TrustConfigError naming a bad entry. */
  static load(extra: ServerConfig['ec2ExtraCerts'] = []): Ec2TrustStore {
    const map = new Map<string, TrustedCertificate[]>();
    const add = (t: TrustedCertificate) => map.set(t.region, [...(map.get(t.region) ?? []), t]);
    for (const entry of AWS_RSA2048_CERTIFICATES) {
      for (const cert of parsePemCertificates(entry.pem, `embedded AWS certificate for ${entry.region}`)) add({ region: entry.region, source: 'aws', cert });
    }
    for (const { region, file } of extra) {
      if (!REGION_NAME_RE.test(region)) {
        throw new Ec2TrustConfigError(`JOINERY_EC2_EXTRA_CERTS: ${JSON.stringify(region)} is not an AWS region name (expected e.g. us-west-2=/path/cert.pem)`);
      }
      let text: string;
      try {
        text = fs.readFileSync(file, 'utf8');
      } catch (e) {
        throw new Ec2TrustConfigError(`JOINERY_EC2_EXTRA_CERTS: cannot read ${file} for ${region}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      for (const cert of parsePemCertificates(text, `JOINERY_EC2_EXTRA_CERTS file ${file} (${region})`)) add({ region, source: `operator file ${file}`, cert });
    }
    return new Ec2TrustStore(map);
  }

  /** A store of exactly these certificates (tests use it to try one certificate at a time). */
  static fromCertificates(list: readonly TrustedCertificate[]): Ec2TrustStore {
    const map = new Map<string, TrustedCertificate[]>();
    for (const t of list) map.set(t.region, [...(map.get(t.region) ?? []), t]);
    return new Ec2TrustStore(map);
  }

  /** The certificates trusted for the region; empty for a region nobody vouched for. */
  certificates(region: string): readonly TrustedCertificate[] {
    return this.byRegion.get(region) ?? [];
  }

  all(): TrustedCertificate[] {
    return [...this.byRegion.values()].flat();
  }

  regions(): string[] {
    return [...this.byRegion.keys()].sort();
  }
}
