"""The multi-account-ec2 example (examples/multi-account-ec2/stack.ts) written in Python against the
jsii-built joinery_constructs wheel. Usage: python multi_account_ec2.py OUTDIR"""

import sys

from cdktf import App, TerraformStack
from cdktf_cdktf_provider_aws.provider import AwsProvider, AwsProviderAssumeRole
from constructs import Construct
from joinery_constructs import (
    AuthServiceAccount,
    Ec2JoinTokenOptions,
    ForeignAccount,
    JoinToken,
    MultiAccountEc2Join,
    TeleportProvider,
)

AUTH_ACCOUNT = "111111111111"
FOREIGN_ACCOUNTS = ["222222222222", "333333333333"]
REGIONS = ["us-west-1", "us-west-2"]


class MultiAccountEc2Stack(TerraformStack):
    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        TeleportProvider(self, "teleport")
        auth = AwsProvider(self, "auth", alias="auth", region="us-west-2", allowed_account_ids=[AUTH_ACCOUNT])
        accounts = [
            ForeignAccount(
                account_id=account_id,
                regions=REGIONS,
                provider=AwsProvider(
                    self,
                    f"aws-{account_id}",
                    alias=f"account_{account_id}",
                    region="us-west-2",
                    allowed_account_ids=[account_id],
                    assume_role=[AwsProviderAssumeRole(role_arn=f"arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole")],
                ),
            )
            for account_id in FOREIGN_ACCOUNTS
        ]
        self.join = MultiAccountEc2Join(
            self,
            "ec2-join",
            auth_service=AuthServiceAccount(provider=auth, account_id=AUTH_ACCOUNT, role_name="teleport-auth-service"),
            accounts=accounts,
            token=Ec2JoinTokenOptions(name="ec2-multiaccount-token"),
        )


app = App(outdir=sys.argv[1])
stack = MultiAccountEc2Stack(app, "multi-account-ec2")
# Importers and validation errors cross the language boundary too.
imported = JoinToken.from_token_name(stack, "existing", "ec2-token")
assert imported.token_name == "ec2-token", imported.token_name
try:
    MultiAccountEc2Join(
        stack,
        "bad",
        auth_service=AuthServiceAccount(provider=stack.join.node.scope.node.find_child("auth"), account_id="1", role_name="x"),
        accounts=[],
        token=Ec2JoinTokenOptions(name="t"),
    )
    raise SystemExit("an empty accounts list was accepted")
except Exception as err:  # jsii turns the construct's error into a RuntimeError
    if "accounts must list at least one foreign account" not in str(err):
        raise
app.synth()
print("synthesized")
