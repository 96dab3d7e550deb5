// Which AWS regions the embedded certificate set covers, so the docs and the refusal for a
// region without one can say so precisely. The region list is the one the IAM method's STS
// allowlist knows; a region in neither list is one this release has never heard of.

import { COMMERCIAL_REGIONS, CHINA_REGIONS, GOVCLOUD_REGIONS, ISO_REGIONS, ISOB_REGIONS } from '../iam/sts-endpoints';
import { AWS_RSA2048_CERTIFICATES } from './aws-certificates';

export const KNOWN_REGIONS: readonly string[] = [...COMMERCIAL_REGIONS, ...GOVCLOUD_REGIONS, ...CHINA_REGIONS, ...ISO_REGIONS, ...ISOB_REGIONS].sort();

/** Known regions whose RSA-2048 certificate is not embedded: add each with JOINERY_EC2_EXTRA_CERTS. */
export function regionsWithoutEmbeddedCertificate(): string[] {
  const covered = new Set(AWS_RSA2048_CERTIFICATES.map((c) => c.region));
  return KNOWN_REGIONS.filter((r) => !covered.has(r));
}
