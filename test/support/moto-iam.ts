// moto in its authenticated mode with the identities an IAM join needs: an IAM user with an access
// key, and a role assumed by that user. moto checks SigV4 signatures only after
// INITIAL_NO_AUTH_ACTION_COUNT actions, so exactly the setup actions run unauthenticated and every
// later request (the joins) must carry a valid signature.

import { AssumeRoleCommand, GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { createRole, iamCall, MOTO_DEFAULT_ACCOUNT, startMoto, stsClient, type AwsCredentials, type Moto } from './moto';

/** CreateUser, CreateAccessKey, CreateRole, AssumeRole. */
const SETUP_ACTIONS = 4;

export interface MotoIam {
  moto: Moto;
  account: string;
  user: { name: string; arn: string; credentials: AwsCredentials };
  role: { arn: string; sessionName: string; sessionArn: string; credentials: AwsCredentials };
  stop(): Promise<void>;
}

function xmlField(xml: string, name: string): string {
  const v = new RegExp(`<${name}>([^<]+)</${name}>`).exec(xml)?.[1];
  if (!v) throw new Error(`moto answered without ${name}: ${xml}`);
  return v;
}

export async function startMotoWithIam(): Promise<MotoIam> {
  const moto = await startMoto({ env: { INITIAL_NO_AUTH_ACTION_COUNT: String(SETUP_ACTIONS) } });
  try {
    const account = MOTO_DEFAULT_ACCOUNT;
    const userName = 'joiner';
    await iamCall(moto, 'CreateUser', { UserName: userName });
    const keyXml = await iamCall(moto, 'CreateAccessKey', { UserName: userName });
    const userCredentials = { accessKeyId: xmlField(keyXml, 'AccessKeyId'), secretAccessKey: xmlField(keyXml, 'SecretAccessKey') };
    const roleArn = await createRole(moto, { roleName: 'teleport-node-role', accountId: account, trustedAccount: account });
    const sessionName = 'i-0123456789abcdef0';
    const sts = stsClient(moto, 'us-east-1', userCredentials);
    let roleCredentials: AwsCredentials;
    try {
      const out = await sts.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: sessionName }));
      roleCredentials = { accessKeyId: out.Credentials!.AccessKeyId!, secretAccessKey: out.Credentials!.SecretAccessKey!, sessionToken: out.Credentials!.SessionToken };
    } finally {
      sts.destroy();
    }
    await expectAuthenticated(moto, userCredentials);
    return {
      moto,
      account,
      user: { name: userName, arn: `arn:aws:iam::${account}:user/${userName}`, credentials: userCredentials },
      role: { arn: roleArn, sessionName, sessionArn: `arn:aws:sts::${account}:assumed-role/teleport-node-role/${sessionName}`, credentials: roleCredentials },
      stop: () => moto.stop(),
    };
  } catch (e) {
    await moto.stop();
    throw e;
  }
}

/** Proves moto now checks signatures: a wrong secret is refused, the right one accepted. */
async function expectAuthenticated(moto: Moto, good: AwsCredentials): Promise<void> {
  const bad = stsClient(moto, 'us-east-1', { ...good, secretAccessKey: `${good.secretAccessKey}x` });
  try {
    await bad.send(new GetCallerIdentityCommand({}));
    throw new Error('moto accepted a request signed with a wrong secret: it is not in authenticated mode');
  } catch (e) {
    if ((e as Error).name !== 'SignatureDoesNotMatch') throw e;
  } finally {
    bad.destroy();
  }
  const ok = stsClient(moto, 'us-east-1', good);
  try {
    await ok.send(new GetCallerIdentityCommand({}));
  } finally {
    ok.destroy();
  }
}
