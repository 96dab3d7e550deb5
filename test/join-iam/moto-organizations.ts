// Sets an AWS organization up in moto with the SDK's own Organizations commands: the organization,
// OUs and accounts the join-time checks then look up.

import {
  CreateAccountCommand,
  CreateOrganizationalUnitCommand,
  CreateOrganizationCommand,
  ListRootsCommand,
  MoveAccountCommand,
  OrganizationsClient,
} from '@aws-sdk/client-organizations';
import type { Moto } from '../support/moto';

export class MotoOrganization {
  readonly sdk: OrganizationsClient;
  organizationId = '';
  rootId = '';

  constructor(moto: Moto) {
    this.sdk = new OrganizationsClient({ region: 'us-east-1', endpoint: moto.endpoint, credentials: moto.credentials, maxAttempts: 1 });
  }

  /** Creates the organization (all features) and reads its root. */
  async create(): Promise<this> {
    const created = await this.sdk.send(new CreateOrganizationCommand({ FeatureSet: 'ALL' }));
    this.organizationId = created.Organization!.Id!;
    this.rootId = (await this.sdk.send(new ListRootsCommand({}))).Roots![0].Id!;
    return this;
  }

  async createOu(parentId: string, name: string): Promise<string> {
    return (await this.sdk.send(new CreateOrganizationalUnitCommand({ ParentId: parentId, Name: name }))).OrganizationalUnit!.Id!;
  }

  /** A new member account, left at the root unless `parentId` names an OU to move it to. */
  async createAccount(name: string, parentId?: string): Promise<string> {
    const id = (await this.sdk.send(new CreateAccountCommand({ AccountName: name, Email: `${name}@example.com` }))).CreateAccountStatus!.AccountId!;
    if (parentId && parentId !== this.rootId) await this.sdk.send(new MoveAccountCommand({ AccountId: id, SourceParentId: this.rootId, DestinationParentId: parentId }));
    return id;
  }

  destroy(): void {
    this.sdk.destroy();
  }
}
