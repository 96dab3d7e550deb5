// Roles the IAM constructs take (to attach a policy to, or to assume): a role this app creates
// (an L1 IamRole, or a construct of this library), or one that exists already, imported by ARN or
// name. Policy attachments need the role's name; assume-role policies need its ARN.

import { IamRole } from '@cdktf/provider-aws/lib/iam-role';
import { Fn, Token } from 'cdktf';
import { Construct, IConstruct } from 'constructs';
import { IamPropsError, requireIamName } from './validation';
import { IAM_ROLE_ARN_RE } from '../../schema/aws';

/** An IAM role: its name and ARN (either may be a reference resolved at apply time). */
export interface IRoleReference extends IConstruct {
  /** The role's name, without its path. */
  readonly roleName: string;
  /** The role's ARN. */
  readonly roleArn: string;
}

/** Options of {@link RoleReference.fromRoleName}. */
export interface RoleReferenceFromNameOptions {
  /**
   * The account the role is in (12 digits).
   * @default - the ARN cannot be known: only usable where a role name is needed (policy attachments)
   */
  readonly accountId?: string;
  /**
   * The role's path.
   * @default '/'
   */
  readonly path?: string;
  /**
   * The AWS partition.
   * @default 'aws'
   */
  readonly partition?: string;
}

class ImportedRole extends Construct implements IRoleReference {
  constructor(
    scope: Construct,
    id: string,
    readonly roleName: string,
    private readonly arn: string | undefined,
  ) {
    super(scope, id);
  }

  get roleArn(): string {
    if (this.arn === undefined) {
      throw new IamPropsError(this.node.path, 'roleArn', 'is unknown: the role was imported by name without an accountId; pass accountId to RoleReference.fromRoleName');
    }
    return this.arn;
  }
}

/** Importers for roles that exist already. */
export class RoleReference {
  /** A role by its ARN (`arn:aws:iam::111111111111:role/path/name`); its name is taken from the ARN. */
  static fromRoleArn(scope: Construct, id: string, roleArn: string): IRoleReference {
    if (Token.isUnresolved(roleArn)) {
      // The name is the ARN's last "/" part, resolved by Terraform.
      return new ImportedRole(scope, id, Fn.element(Fn.reverse(Fn.split('/', roleArn)), 0), roleArn);
    }
    if (typeof roleArn !== 'string' || !IAM_ROLE_ARN_RE.test(roleArn)) {
      throw new IamPropsError(`${scope.node.path}/${id}`, 'roleArn', `must be an IAM role ARN such as arn:aws:iam::111111111111:role/teleport-auth-service (got ${JSON.stringify(roleArn)})`);
    }
    return new ImportedRole(scope, id, roleArn.slice(roleArn.lastIndexOf('/') + 1), roleArn);
  }

  /** A role by its name; give the account to make its ARN known too. */
  static fromRoleName(scope: Construct, id: string, roleName: string, options: RoleReferenceFromNameOptions = {}): IRoleReference {
    const where = `${scope.node.path}/${id}`;
    requireIamName(where, 'roleName', roleName, 64);
    const path = options.path ?? '/';
    const arn = options.accountId === undefined ? undefined : `arn:${options.partition ?? 'aws'}:iam::${options.accountId}:role${path}${roleName}`;
    return new ImportedRole(scope, id, roleName, arn);
  }

  private constructor() {}
}

/** A role as the props take it: a name or ARN string, an L1 IamRole, or an IRoleReference. */
export type RoleLike = string | IamRole | IRoleReference; // spelled out in props: jsii has no aliases

/** The role's name and ARN; `arn` is undefined for a string that is a name. */
export function roleParts(role: RoleLike): { name: string; arn?: string } {
  if (typeof role === 'string') {
    if (!Token.isUnresolved(role) && role.startsWith('arn:')) return { name: role.slice(role.lastIndexOf('/') + 1), arn: role };
    return { name: role };
  }
  if (role instanceof IamRole) return { name: role.name, arn: role.arn };
  const r = role as Partial<IRoleReference> & { arn?: string; name?: string };
  // `arn` alone: a 0.1 caller's { arn } object.
  if (r.roleArn === undefined && r.arn !== undefined) return { name: r.name ?? '', arn: r.arn };
  return { name: r.roleName as string, get arn() { return r.roleArn; } };
}
