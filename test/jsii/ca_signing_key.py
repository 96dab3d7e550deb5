"""A CaSigningKey from Python against the jsii-built joinery_constructs wheel: the cluster CA's
KMS key, its alias and the signing policy on the server's role. Usage: python ca_signing_key.py OUTDIR"""

import sys

from cdktf import App, TerraformOutput, TerraformStack
from cdktf_cdktf_provider_aws.provider import AwsProvider
from joinery_constructs import CaSigningKey, CaSigningPolicyOptions

app = App(outdir=sys.argv[1])
stack = TerraformStack(app, "ca-signing-key")
AwsProvider(stack, "aws", region="us-east-1")
key = CaSigningKey(
    stack,
    "ca-key",
    account_id="111122223333",
    partition="aws",
    server_roles=["joinery-server"],
    deletion_window_in_days=7,
    signing_policy=CaSigningPolicyOptions(name="prod-ca-signing"),
)
key.grant_sign("joinery-replica")
TerraformOutput(stack, "ca_key_setting", value=key.ca_key_setting)
# Validation errors cross the language boundary.
try:
    CaSigningKey(stack, "bad", alias_name="joinery-ca")
    raise SystemExit("a bad aliasName was accepted")
except Exception as e:  # jsii raises the JavaScript error as a RuntimeError
    assert "aliasName must be" in str(e), e
app.synth()
print("synthesized")
