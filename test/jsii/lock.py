"""A teleport_lock (the L1 Lock binding) from Python against the jsii-built joinery_constructs
wheel: an incident lock declared beside the stack's infrastructure. Usage: python lock.py OUTDIR"""

import sys

from cdktf import App, TerraformStack
from joinery_constructs import Lock, TeleportProvider

app = App(outdir=sys.argv[1])
stack = TerraformStack(app, "incident-lock")
TeleportProvider(stack, "teleport", addr="127.0.0.1:3025")
Lock(stack, "incident", instance_id="i-0abc", message="incident 42: reimage first", expires="2030-01-01T00:00:00Z")
app.synth()
print("synthesized")
