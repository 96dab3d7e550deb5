// STS in every partition Teleport accepts (its STS endpoint list in lib/utils/aws), and the EC2
// certificate set saying which known regions it does not cover.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { KNOWN_REGIONS, regionsWithoutEmbeddedCertificate } from '../../api/join/ec2/region-coverage';
import { isAllowedStsHost } from '../../api/join/iam/sts-endpoints';
import { REPO_ROOT } from '../support/server';

test('every STS host Teleport allows is allowed here', () => {
  const teleport = [
    'sts.amazonaws.com',
    'sts.us-east-1.amazonaws.com',
    'sts.us-gov-east-1.amazonaws.com',
    'sts.us-gov-west-1.amazonaws.com',
    'sts.cn-north-1.amazonaws.com.cn',
    'sts.cn-northwest-1.amazonaws.com.cn',
    'sts.us-iso-east-1.c2s.ic.gov',
    'sts.us-iso-west-1.c2s.ic.gov',
    'sts.us-isob-east-1.sc2s.sgov.gov',
    'sts-fips.us-east-1.amazonaws.com',
    'sts-fips.us-east-2.amazonaws.com',
    'sts-fips.us-west-1.amazonaws.com',
    'sts-fips.us-west-2.amazonaws.com',
  ];
  expect(teleport.filter((h) => !isAllowedStsHost(h))).toEqual([]);
});

test('docs/ec2.md lists exactly the known regions without an embedded certificate', () => {
  const doc = fs.readFileSync(path.join(REPO_ROOT, 'docs', 'ec2.md'), 'utf8');
  const listed = /<!-- regions-without-certificate -->(.*?)<!-- \/regions-without-certificate -->/s.exec(doc)![1].match(/`([a-z0-9-]+)`/g)!.map((s) => s.slice(1, -1));
  expect(listed).toEqual(regionsWithoutEmbeddedCertificate());
  expect(KNOWN_REGIONS).toEqual(expect.arrayContaining(['us-iso-east-1', 'us-isob-east-1', 'mx-central-1']));
});
