// The only hosts a forwarded GetCallerIdentity may go to: real AWS STS endpoints, listed
// statically. A list (not a pattern such as /^sts\..*\.amazonaws\.com$/) so that no look-alike
// host can ever be reached; a region AWS opens later is added here in a release.

/** Commercial regions with a regional STS endpoint `sts.<region>.amazonaws.com`. */
export const COMMERCIAL_REGIONS = [
  'af-south-1',
  'ap-east-1',
  'ap-east-2',
  'ap-northeast-1',
  'ap-northeast-2',
  'ap-northeast-3',
  'ap-south-1',
  'ap-south-2',
  'ap-southeast-1',
  'ap-southeast-2',
  'ap-southeast-3',
  'ap-southeast-4',
  'ap-southeast-5',
  'ap-southeast-6',
  'ap-southeast-7',
  'ca-central-1',
  'ca-west-1',
  'eu-central-1',
  'eu-central-2',
  'eu-north-1',
  'eu-south-1',
  'eu-south-2',
  'eu-west-1',
  'eu-west-2',
  'eu-west-3',
  'il-central-1',
  'me-central-1',
  'me-south-1',
  'mx-central-1',
  'sa-east-1',
  'us-east-1',
  'us-east-2',
  'us-west-1',
  'us-west-2',
] as const;

/** Regions that also have a FIPS endpoint `sts-fips.<region>.amazonaws.com`. */
export const FIPS_REGIONS = ['us-east-1', 'us-east-2', 'us-west-1', 'us-west-2'] as const;

/** AWS GovCloud (US): `sts.<region>.amazonaws.com` (FIPS validated already). */
export const GOVCLOUD_REGIONS = ['us-gov-east-1', 'us-gov-west-1'] as const;

/** China: `sts.<region>.amazonaws.com.cn`. */
export const CHINA_REGIONS = ['cn-north-1', 'cn-northwest-1'] as const;

/**
 * The isolated partitions Teleport also accepts: aws-iso (`sts.<region>.c2s.ic.gov`) and
 * aws-iso-b (`sts.<region>.sc2s.sgov.gov`). Their regional endpoints are the only STS ones.
 */
export const ISO_REGIONS = ['us-iso-east-1', 'us-iso-west-1'] as const;
export const ISOB_REGIONS = ['us-isob-east-1'] as const;

export const GLOBAL_STS_HOST = 'sts.amazonaws.com';

/** The domain of a region's partition: where its STS endpoint lives. */
function partitionDomain(region: string): string {
  if ((ISO_REGIONS as readonly string[]).includes(region)) return 'c2s.ic.gov';
  if ((ISOB_REGIONS as readonly string[]).includes(region)) return 'sc2s.sgov.gov';
  return region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
}

function buildAllowlist(): ReadonlySet<string> {
  const hosts = [GLOBAL_STS_HOST];
  for (const r of [...COMMERCIAL_REGIONS, ...GOVCLOUD_REGIONS]) hosts.push(`sts.${r}.amazonaws.com`);
  for (const r of FIPS_REGIONS) hosts.push(`sts-fips.${r}.amazonaws.com`);
  for (const r of [...CHINA_REGIONS, ...ISO_REGIONS, ...ISOB_REGIONS]) hosts.push(`sts.${r}.${partitionDomain(r)}`);
  return new Set(hosts);
}

export const STS_HOSTS: ReadonlySet<string> = buildAllowlist();

/** Whether `host` (already lower-cased by the caller) is a known STS endpoint. Exact match only. */
export function isAllowedStsHost(host: string): boolean {
  return STS_HOSTS.has(host);
}

/**
 * The STS host an agent in `region` should sign for: the regional endpoint, FIPS when asked,
 * the global endpoint when no region is configured. Undefined when the region has no endpoint
 * in the allowlist (the server would refuse it).
 */
export function stsHostForRegion(region: string | undefined, opts: { fips?: boolean } = {}): string | undefined {
  if (!region) return GLOBAL_STS_HOST;
  let host: string;
  if (opts.fips) {
    // GovCloud's regular endpoints are the FIPS ones; elsewhere only some regions have FIPS.
    if ((FIPS_REGIONS as readonly string[]).includes(region)) host = `sts-fips.${region}.amazonaws.com`;
    else if ((GOVCLOUD_REGIONS as readonly string[]).includes(region)) host = `sts.${region}.amazonaws.com`;
    else return undefined;
  } else {
    host = `sts.${region}.${partitionDomain(region)}`;
  }
  return isAllowedStsHost(host) ? host : undefined;
}

/** The SigV4 signing region for an STS host: the global endpoint signs as us-east-1. */
export function signingRegionForHost(host: string): string {
  if (host === GLOBAL_STS_HOST) return 'us-east-1';
  const m = /^sts(?:-fips)?\.([a-z0-9-]+)\.(?:amazonaws\.com(?:\.cn)?|c2s\.ic\.gov|sc2s\.sgov\.gov)$/.exec(host);
  if (!m) throw new Error(`${host} is not an STS endpoint`);
  return m[1];
}
