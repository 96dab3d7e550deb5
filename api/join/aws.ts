// The AWS side of the join, built once per server from its configuration (startServer): the EC2
// instance lookup, the Organizations lookup and the EC2 trust store. Nothing here is a
// module-level singleton; tests build their own.

import type { ServerConfig } from '../config';
import { AwsInstanceLookup, type InstanceLookup } from './ec2/describe-instance';
import { Ec2TrustStore } from './ec2/trust-store';
import { OrganizationsLookup, type AccountOrganizationSource } from './iam/organizations';

export interface JoinAws {
  /** ec2:DescribeInstances (as the server or an allow rule's aws_role). */
  instances: InstanceLookup;
  /** organizations:DescribeAccount / ListParents, cached. */
  organizations: AccountOrganizationSource;
  /** AWS's certificates plus JOINERY_EC2_EXTRA_CERTS; throws Ec2TrustConfigError for a broken entry. */
  ec2Trust(): Ec2TrustStore;
}

export type JoinAwsConfig = Pick<ServerConfig, 'ec2ExtraCerts' | 'ec2ThrottleWaitMs' | 'ec2DescribePerSecond' | 'awsOrganizationsCacheTtlMs' | 'awsOrganizationsCacheMaxEntries'>;

/** The server's AWS clients and trust store, from its configuration; `over` replaces parts (tests). */
export function buildJoinAws(config: JoinAwsConfig, over: Partial<JoinAws> = {}): JoinAws {
  let trust: Ec2TrustStore | undefined;
  return {
    instances: over.instances ?? new AwsInstanceLookup({ throttleWaitMs: config.ec2ThrottleWaitMs, describePerSecond: config.ec2DescribePerSecond }),
    organizations: over.organizations ?? new OrganizationsLookup({ ttlMs: config.awsOrganizationsCacheTtlMs, maxEntries: config.awsOrganizationsCacheMaxEntries }),
    ec2Trust: over.ec2Trust ?? (() => (trust ??= Ec2TrustStore.load(config.ec2ExtraCerts))),
  };
}
