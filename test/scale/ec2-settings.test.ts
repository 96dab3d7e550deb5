// The EC2 pacing settings: defaults, 0 for "no waiting", and clear errors for bad values.

import { loadConfig } from '../../api/config';

test('defaults: a 30 s bounded wait and 1 DescribeInstances call per second per account and region', () => {
  const c = loadConfig({}, {});
  expect(c.ec2ThrottleWaitMs).toBe(30_000);
  expect(c.ec2DescribePerSecond).toBe(1);
});

test('JOINERY_EC2_THROTTLE_WAIT_MS=0 refuses at the first throttle; other values are taken as given', () => {
  expect(loadConfig({}, { JOINERY_EC2_THROTTLE_WAIT_MS: '0' }).ec2ThrottleWaitMs).toBe(0);
  expect(loadConfig({}, { JOINERY_EC2_THROTTLE_WAIT_MS: '5000', JOINERY_EC2_DESCRIBE_RATE: '5' })).toMatchObject({ ec2ThrottleWaitMs: 5000, ec2DescribePerSecond: 5 });
});

test.each([
  ['JOINERY_EC2_THROTTLE_WAIT_MS', '-1'],
  ['JOINERY_EC2_THROTTLE_WAIT_MS', '1.5'],
  ['JOINERY_EC2_DESCRIBE_RATE', '0'],
  ['JOINERY_EC2_DESCRIBE_RATE', 'fast'],
])('%s=%s is refused with the setting named', (name, value) => {
  expect(() => loadConfig({}, { [name]: value })).toThrow(name);
});
