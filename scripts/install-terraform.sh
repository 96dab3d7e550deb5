#!/bin/sh
# Builds the Terraform and OpenTofu releases the tests run (scripts/terraform-releases) from the Go
# module proxy, one binary per version in $HOME/.cache/joinery/bin (terraform-1.5.7,
# terraform-1.13.5, tofu-1.6.3, tofu-1.10.6). Cached by version: a binary already there at its
# version is kept, so a cached run takes about a second. Missing binaries are built two at a time
# (JOINERY_TF_BUILD_JOBS): a Go build's compile phase already uses every core, but module downloads
# and the link are mostly single-threaded, so on 2 cores two builds side by side finish sooner than
# one after the other (measured on a loaded 2-core machine: all four relinked from a warm build
# cache in 51-54 s two at a time, 58-70 s one at a time).
#
# The oldest pair (Terraform 1.5.7, the last MPL release, and OpenTofu 1.6.3) keeps the
# provider-protocol suite honest about old clients; the newest pair runs every real-tool suite.
#
# Terraform >= 1.6 cannot be built with `go install`: its go.mod points the remote-state backends
# (azure, consul, cos, gcs, kubernetes, oci, oss, pg, s3) and internal/legacy at nested modules via
# `replace` directives, and the module zip on the proxy does not contain those nested modules. So
# the source is copied out of the module cache and patched (patch_terraform below) to leave those
# backends out; the local backend and every provider-protocol path are untouched. OpenTofu builds
# from its own module root with `go build ./cmd/tofu`, where its own `replace` (hashicorp/hcl) applies.
set -eu
export CHECKPOINT_DISABLE=1 # no update check

BIN="${JOINERY_TF_BIN_DIR:-$HOME/.cache/joinery/bin}"
JOBS="${JOINERY_TF_BUILD_JOBS:-2}"
FALLBACK_TOOLCHAIN=go1.22.12
# "NAME VERSION HOW MODULE" per release, from scripts/terraform-releases (comments dropped).
RELEASES=$(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$(dirname "$0")/terraform-releases" | awk '{print $1, $2, $4, $5}')
# Arguments (e.g. `terraform-1.13.5 tofu-1.10.6`) narrow the run to those releases.
if [ $# -gt 0 ]; then
  wanted=$(echo "$RELEASES" | while read -r name version how module; do
    for a in "$@"; do [ "$a" != "$name-$version" ] || echo "$name $version $how $module"; done
  done)
  [ "$(echo "$wanted" | grep -c .)" = $# ] || { echo "usage: $0 [NAME-VERSION...] with NAME-VERSION among: $(echo "$RELEASES" | awk '{printf " %s-%s", $1, $2}')" >&2; exit 2; }
  RELEASES=$wanted
fi
mkdir -p "$BIN"

have() { # have NAME VERSION: the cached binary reports exactly that version (a -dev build does not count)
  [ -x "$BIN/$1-$2" ] && "$BIN/$1-$2" version 2>/dev/null | head -n 1 | grep -Eq "v$2\$"
}

# Release builds set the version package's dev flag to "no" (as HashiCorp's and OpenTofu's release
# pipelines do): otherwise the binary calls itself VERSION-dev and, being a development build,
# allows experimental language features that the released binary refuses.
ldflags() { # ldflags NAME
  case $1 in
    terraform) echo "-X github.com/hashicorp/terraform/version.dev=no" ;;
    tofu) echo "-X github.com/opentofu/opentofu/version.dev=no" ;;
  esac
}

# The remote-state backends whose nested modules are missing from Terraform's module zip.
REMOTE_STATE_BACKENDS="azure consul cos gcs kubernetes oci oss pg s3"

# Leaves the remote-state backends of $REMOTE_STATE_BACKENDS (and internal/legacy, a nested
# module only a test imports) out of the Terraform source tree in $1. Deterministic line edits,
# each checked: the build fails loudly if an upstream change makes the patch miss or overreach.
patch_terraform() {
  src=$1
  init_go="$src/internal/backend/init/init.go"
  pattern=$(echo "$REMOTE_STATE_BACKENDS" | tr ' ' '|')
  # init.go: drop each backend's import (`backendS3 ".../remote-state/s3"`) and the map entry that
  # calls its alias (`"s3": func() backend.Backend { return backendS3.New() },`).
  awk -v pattern="^($pattern)\$" '
    /"github.com\/hashicorp\/terraform\/internal\/backend\/remote-state\/[a-z0-9]+"/ {
      pkg = $2; gsub(/"/, "", pkg); sub(/.*\//, "", pkg)
      if (pkg ~ pattern) { alias[$1] = 1; removed++; next }
    }
    { for (a in alias) if (index($0, a ".New(") > 0) { removed++; next } }
    { print }
    END { print removed > "/dev/stderr" }
  ' "$init_go" > "$init_go.new" 2> "$src/.init-removed"
  # go.mod: drop the require and replace lines of those nested modules.
  awk -v pattern="github.com/hashicorp/terraform/internal/(backend/remote-state/($pattern)|legacy)( |\$)" '
    $0 ~ pattern { removed++; next }
    { print }
    END { print removed > "/dev/stderr" }
  ' "$src/go.mod" > "$src/go.mod.new" 2> "$src/.gomod-removed"
  mv "$init_go.new" "$init_go"
  mv "$src/go.mod.new" "$src/go.mod"
  count=$(echo "$REMOTE_STATE_BACKENDS" | wc -w)
  [ "$(cat "$src/.init-removed")" = $((count * 2)) ] ||
    { echo "patch_terraform: expected to remove $((count * 2)) lines (imports and map entries) from init.go, removed $(cat "$src/.init-removed")" >&2; return 1; }
  [ "$(cat "$src/.gomod-removed")" = $(((count + 1) * 2)) ] ||
    { echo "patch_terraform: expected to remove $(((count + 1) * 2)) require/replace lines from go.mod, removed $(cat "$src/.gomod-removed")" >&2; return 1; }
  if grep -Eq "remote-state/($pattern)\"" "$init_go" || grep -Eq "internal/(backend/remote-state/($pattern)|legacy) " "$src/go.mod"; then
    echo "patch_terraform: a removed backend is still referenced" >&2; return 1
  fi
  grep -q '"local": ' "$init_go" || { echo "patch_terraform: the local backend went missing from init.go" >&2; return 1; }
}

build() { # build NAME VERSION HOW MODULE: into $BIN/NAME-VERSION
  name=$1 version=$2 how=$3 module=$4
  out="$BIN/$name-$version"
  work=$(mktemp -d "${TMPDIR:-/tmp}/joinery-$name-$version.XXXXXX")
  trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
  started=$(date +%s)
  echo "building $name $version from $module (takes a few minutes)" >&2
  if [ "$how" = install ]; then
    if ! GOBIN="$work" GOFLAGS=-mod=mod go install -ldflags "$(ldflags "$name")" "$module@v$version"; then
      echo "retrying $name $version with GOTOOLCHAIN=$FALLBACK_TOOLCHAIN" >&2
      GOBIN="$work" GOFLAGS=-mod=mod GOTOOLCHAIN="$FALLBACK_TOOLCHAIN" go install -ldflags "$(ldflags "$name")" "$module@v$version"
    fi
    mv "$work/$name" "$out.tmp"
  else
    dir=$(go mod download -json "$module@v$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
    [ -n "$dir" ] && [ -d "$dir" ] || { echo "go mod download $module@v$version gave no source directory" >&2; return 1; }
    cp -R "$dir" "$work/src"
    chmod -R u+w "$work/src" # the module cache is read-only
    package=.
    if [ "$name" = terraform ]; then patch_terraform "$work/src"; else package=./cmd/tofu; fi
    (cd "$work/src" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "$(ldflags "$name")" -o "$out.tmp" "$package")
  fi
  mv "$out.tmp" "$out"
  echo "built $name $version in $(($(date +%s) - started))s" >&2
}

if ! command -v go >/dev/null 2>&1; then
  echo "$RELEASES" | while read -r name version how module; do
    have "$name" "$version" || { echo "install-terraform.sh: Go is needed to build $name $version (https://go.dev/dl/)" >&2; exit 1; }
  done
fi

# Binaries an earlier version of this script left unversioned (terraform, tofu) are adopted.
echo "$RELEASES" | while read -r name version how module; do
  if ! have "$name" "$version" && [ -x "$BIN/$name" ] && "$BIN/$name" version 2>/dev/null | head -n 1 | grep -Eq "v$version\$"; then
    cp "$BIN/$name" "$BIN/$name-$version.tmp" && mv "$BIN/$name-$version.tmp" "$BIN/$name-$version"
  fi
done

# Build what is missing, at most $JOBS at a time; each build logs to its own file, shown on failure.
logs=$(mktemp -d "${TMPDIR:-/tmp}/joinery-tf-logs.XXXXXX")
pids=""
running=0
failed=0
wait_all() {
  for p in $pids; do
    wait "${p%%:*}" || { failed=1; echo "build of ${p#*:} failed:" >&2; tail -n 40 "$logs/${p#*:}.log" >&2; }
  done
  pids="" running=0
}
while read -r name version how module; do
  have "$name" "$version" && continue
  (build "$name" "$version" "$how" "$module") > "$logs/$name-$version.log" 2>&1 &
  pids="$pids $!:$name-$version"
  running=$((running + 1))
  [ "$running" -lt "$JOBS" ] || wait_all
done <<EOF
$RELEASES
EOF
wait_all
cat "$logs"/*.log 2>/dev/null | grep '^built ' >&2 || true
rm -rf "$logs"
[ "$failed" = 0 ] || exit 1

echo "$RELEASES" | while read -r name version how module; do
  have "$name" "$version" || { echo "$name $version is not in $BIN after the build" >&2; exit 1; }
done
echo "installed in $BIN: $(echo "$RELEASES" | awk '{printf "%s%s-%s", (NR > 1 ? ", " : ""), $1, $2}')"
