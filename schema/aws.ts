// Shapes of AWS identifiers that tokens refer to.

/** A 12-digit AWS account ID. */
export const AWS_ACCOUNT_RE = /^[0-9]{12}$/;

/**
 * Region names: commercial (us-west-2), GovCloud (us-gov-west-1), China (cn-north-1) and the
 * isolated partitions (us-iso-east-1, us-isob-east-1, eu-isoe-west-1). A pattern rather than a
 * list, so that a region AWS opens next month is accepted here; the EC2 verifier separately
 * refuses a region it holds no certificate for.
 */
export const AWS_REGION_RE =
  /^(?:us|eu|ap|sa|ca|me|af|il|mx|cn)(?:-gov|-iso[a-z]?)?-(?:north|south|east|west|central|northeast|northwest|southeast|southwest)-[0-9]{1,2}$/;

/** An IAM role ARN in any partition, with an optional path: arn:aws:iam::123456789012:role/path/name */
export const IAM_ROLE_ARN_RE = /^arn:aws(?:-cn|-us-gov|-iso|-iso-b|-iso-e|-iso-f)?:iam::([0-9]{12}):role\/[\w+=,.@/-]{1,512}$/;

/** The account inside an IAM role ARN, or undefined when the text is not one. */
export function roleArnAccount(arn: string): string | undefined {
  const m = IAM_ROLE_ARN_RE.exec(arn);
  return m ? m[1] : undefined;
}
