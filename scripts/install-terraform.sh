#!/bin/sh
# Builds Terraform v1.5.7 (the last MPL release) and OpenTofu v1.6.3 from source into
# $HOME/.cache/joinery/bin for the end-to-end tests. Idempotent: binaries that are already there
# at the right version are kept, so a cached run takes well under a second.
set -eu
export CHECKPOINT_DISABLE=1 # no update check (there is no network)

BIN="${JOINERY_TF_BIN_DIR:-$HOME/.cache/joinery/bin}"
TERRAFORM_VERSION=1.5.7
TOFU_VERSION=1.6.3
FALLBACK_TOOLCHAIN=go1.22.12
mkdir -p "$BIN"

have() { # have BINARY VERSION
  [ -x "$BIN/$1" ] && "$BIN/$1" version 2>/dev/null | head -n 1 | grep -Eq "v$2(-dev)?\$"
}

build() { # build NAME MODULE@VERSION
  echo "building $1 from $2 into $BIN (takes a few minutes)" >&2
  if GOBIN="$BIN" GOFLAGS=-mod=mod go install "$2"; then return 0; fi
  echo "retrying $1 with GOTOOLCHAIN=$FALLBACK_TOOLCHAIN" >&2
  GOBIN="$BIN" GOFLAGS=-mod=mod GOTOOLCHAIN="$FALLBACK_TOOLCHAIN" go install "$2"
}

if ! command -v go >/dev/null 2>&1 && ! { have terraform "$TERRAFORM_VERSION" && have tofu "$TOFU_VERSION"; }; then
  echo "install-terraform.sh: Go is needed to build Terraform and OpenTofu (https://go.dev/dl/)" >&2
  exit 1
fi

have terraform "$TERRAFORM_VERSION" || build terraform "github.com/hashicorp/terraform@v$TERRAFORM_VERSION"
have tofu "$TOFU_VERSION" || build tofu "github.com/opentofu/opentofu/cmd/tofu@v$TOFU_VERSION"

have terraform "$TERRAFORM_VERSION" || { echo "terraform $TERRAFORM_VERSION is not in $BIN after the build" >&2; exit 1; }
have tofu "$TOFU_VERSION" || { echo "tofu $TOFU_VERSION is not in $BIN after the build" >&2; exit 1; }
echo "terraform: $BIN/terraform ($TERRAFORM_VERSION), tofu: $BIN/tofu ($TOFU_VERSION)"
