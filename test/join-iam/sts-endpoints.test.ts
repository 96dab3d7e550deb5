import { isAllowedStsHost, signingRegionForHost, stsHostForRegion, STS_HOSTS } from '../../api/join/iam/sts-endpoints';

describe('STS endpoint allowlist', () => {
  it.each([
    'sts.amazonaws.com',
    'sts.us-east-1.amazonaws.com',
    'sts.eu-west-1.amazonaws.com',
    'sts.ap-southeast-4.amazonaws.com',
    'sts-fips.us-east-1.amazonaws.com',
    'sts-fips.us-west-2.amazonaws.com',
    'sts.us-gov-west-1.amazonaws.com',
    'sts.us-gov-east-1.amazonaws.com',
    'sts.cn-north-1.amazonaws.com.cn',
    'sts.cn-northwest-1.amazonaws.com.cn',
    // The isolated partitions Teleport accepts (its lib/utils/aws STS endpoint list).
    'sts.us-iso-east-1.c2s.ic.gov',
    'sts.us-iso-west-1.c2s.ic.gov',
    'sts.us-isob-east-1.sc2s.sgov.gov',
  ])('allows %s', (host) => {
    expect(isAllowedStsHost(host)).toBe(true);
  });

  it.each([
    'evil.example',
    'sts.amazonaws.com.evil.example',
    'sts.amazonaws.com.',
    'STS.AMAZONAWS.COM', // the caller lower-cases first; the set itself is exact
    'sts.evil-1.amazonaws.com',
    'sts.cn-north-1.amazonaws.com', // China endpoints live under .com.cn
    'sts.us-east-1.amazonaws.com.cn',
    'sts-fips.eu-west-1.amazonaws.com',
    'sts.amazonaws.com:443',
    '127.0.0.1',
    'iam.amazonaws.com',
    '',
    'sts.us-iso-east-1.amazonaws.com', // iso regions live only under their own domains
    'sts.us-isob-east-1.c2s.ic.gov',
    'sts.evil-1.c2s.ic.gov',
    'sts.us-iso-east-1.c2s.ic.gov.evil.example',
    'sts-fips.us-iso-east-1.c2s.ic.gov',
  ])('refuses %s', (host) => {
    expect(isAllowedStsHost(host)).toBe(false);
  });

  it('holds only https-able DNS names of the AWS partitions', () => {
    for (const host of STS_HOSTS) expect(host).toMatch(/^sts(-fips)?(\.[a-z]{2}(-gov|-isob?)?-[a-z]+-\d)?\.(amazonaws\.com(\.cn)?|c2s\.ic\.gov|sc2s\.sgov\.gov)$/);
    expect(STS_HOSTS.size).toBeGreaterThan(35);
  });

  it('picks the regional endpoint the agent signs for, global without a region', () => {
    expect(stsHostForRegion(undefined)).toBe('sts.amazonaws.com');
    expect(stsHostForRegion('eu-central-1')).toBe('sts.eu-central-1.amazonaws.com');
    expect(stsHostForRegion('cn-north-1')).toBe('sts.cn-north-1.amazonaws.com.cn');
    expect(stsHostForRegion('us-east-2', { fips: true })).toBe('sts-fips.us-east-2.amazonaws.com');
    expect(stsHostForRegion('us-gov-west-1', { fips: true })).toBe('sts.us-gov-west-1.amazonaws.com');
    expect(stsHostForRegion('eu-west-1', { fips: true })).toBeUndefined();
    expect(stsHostForRegion('xx-nowhere-9')).toBeUndefined();
    expect(stsHostForRegion('us-iso-east-1')).toBe('sts.us-iso-east-1.c2s.ic.gov');
    expect(stsHostForRegion('us-isob-east-1')).toBe('sts.us-isob-east-1.sc2s.sgov.gov');
    expect(stsHostForRegion('us-iso-east-1', { fips: true })).toBeUndefined();
  });

  it('signs the global endpoint as us-east-1 and regional ones as their region', () => {
    expect(signingRegionForHost('sts.amazonaws.com')).toBe('us-east-1');
    expect(signingRegionForHost('sts.eu-west-3.amazonaws.com')).toBe('eu-west-3');
    expect(signingRegionForHost('sts-fips.us-west-1.amazonaws.com')).toBe('us-west-1');
    expect(signingRegionForHost('sts.cn-northwest-1.amazonaws.com.cn')).toBe('cn-northwest-1');
    expect(signingRegionForHost('sts.us-iso-west-1.c2s.ic.gov')).toBe('us-iso-west-1');
    expect(signingRegionForHost('sts.us-isob-east-1.sc2s.sgov.gov')).toBe('us-isob-east-1');
  });
});
