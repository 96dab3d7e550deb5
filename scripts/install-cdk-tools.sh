#!/usr/bin/env bash
# Installs the tools the construct library's jsii, Python and CDK Terrain (cdktn) builds need, into
# a cache outside the repository (never into its node_modules):
#   $CDK_TOOLS/jsii     an npm prefix with jsii, jsii-pacmak and jsii-docgen
#   $CDK_TOOLS/cdktn    an npm prefix with the CDK Terrain line (cdktn, cdktn-cli,
#                       @cdktn/provider-aws, constructs < 10.8)
#   $CDK_TOOLS/node22   a link to Node.js 22 from scripts/install-node.sh (cdktn needs >= 22.19)
#   $CDK_TOOLS/venv     a Python virtual environment with cdktf and its AWS provider from PyPI
# Idempotent: a stamp per part records what it was installed with, so a cached run takes well under
# a second. Prints nothing but errors and what it installs.
set -euo pipefail

CDK_TOOLS="${JOINERY_CDK_TOOLS:-$HOME/.cache/joinery/cdk-tools}"
JSII_VERSION=5.9.50
JSII_PACMAK_VERSION=1.128.0 # cdktn-cli 0.24 pins this one
JSII_DOCGEN_VERSION=10.12.6
CDKTN_VERSION=0.24.0
CDKTN_PROVIDER_AWS_VERSION=25.7.0
CDKTN_CONSTRUCTS_VERSION=10.7.0
PY_CDKTF_VERSION=0.21.0 # the cdktf and provider-aws the TypeScript line is built against
PY_PROVIDER_AWS_VERSION=21.22.1
mkdir -p "$CDK_TOOLS"
# Test suites running in parallel may call this at once: one installs, the others wait.
exec 9>"$CDK_TOOLS/.lock"
flock 9

stamp_ok() { [ -f "$CDK_TOOLS/$1.stamp" ] && [ "$(cat "$CDK_TOOLS/$1.stamp")" = "$2" ]; }
stamp() { printf '%s' "$2" >"$CDK_TOOLS/$1.stamp"; }

# Node 22 (cdktn needs >= 22.19): the project's one Node installer, linked where the tools expect it.
node22=$("$(cd "$(dirname "$0")" && pwd)/install-node.sh" 22)
if [ -d "$CDK_TOOLS/node22" ] && [ ! -L "$CDK_TOOLS/node22" ]; then rm -rf "$CDK_TOOLS/node22"; fi
ln -sfn "$(dirname "$(dirname "$node22")")" "$CDK_TOOLS/node22"

# The npm tools, in two prefixes so that each line resolves its own constructs: jsii's build tools,
# and the CDK Terrain line (whose cdktn-cli runs with Node 22).
npm_prefix() { # npm_prefix DIR PACKAGES...
  local dir="$1" want
  shift
  want="$*"
  if ! stamp_ok "$(basename "$dir")" "$want" || [ ! -d "$dir/node_modules" ]; then
    echo "installing $want into $dir" >&2
    mkdir -p "$dir"
    echo '{"name":"joinery-cdk-tools","private":true}' >"$dir/package.json"
    (cd "$dir" && PATH="$CDK_TOOLS/node22/bin:$PATH" npm install --silent --no-audit --no-fund --ignore-scripts "$@")
    stamp "$(basename "$dir")" "$want"
  fi
}
npm_prefix "$CDK_TOOLS/jsii" "jsii@$JSII_VERSION" "jsii-pacmak@$JSII_PACMAK_VERSION" "jsii-docgen@$JSII_DOCGEN_VERSION"
npm_prefix "$CDK_TOOLS/cdktn" "cdktn@$CDKTN_VERSION" "cdktn-cli@$CDKTN_VERSION" "@cdktn/provider-aws@$CDKTN_PROVIDER_AWS_VERSION" \
  "constructs@$CDKTN_CONSTRUCTS_VERSION" "jsii@$JSII_VERSION" "jsii-pacmak@$JSII_PACMAK_VERSION"

# Python: cdktf and the AWS provider (the wheel's dependencies) for the jsii-built wheel's test app.
want="cdktf==$PY_CDKTF_VERSION cdktf-cdktf-provider-aws==$PY_PROVIDER_AWS_VERSION"
if ! stamp_ok venv "$want" || [ ! -x "$CDK_TOOLS/venv/bin/python" ]; then
  echo "installing $want into $CDK_TOOLS/venv" >&2
  python3 -m venv "$CDK_TOOLS/venv"
  # shellcheck disable=SC2086
  "$CDK_TOOLS/venv/bin/pip" install --quiet --disable-pip-version-check $want
  stamp venv "$want"
fi
