#!/bin/sh
# Runs jest suites on another Node.js LTS from the npm registry, with better-sqlite3 built for it:
#
#   scripts/node-versions/test-on-node.sh 24 test/unit test/api
#
# dist/ must be built (npm test or `npx tsc -p .` does it); the code under test is the same.
set -eu
major="${1:?usage: test-on-node.sh 22|24 [jest arguments...]}"
shift
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
node=$("$root/scripts/install-node.sh" "$major")
sqlite=$("$here/build-sqlite-for-node.sh" "$node")
echo "jest on Node $("$node" --version), better-sqlite3 from $sqlite" >&2
export JOINERY_BETTER_SQLITE3_DIR="$sqlite"
export NODE_OPTIONS="${NODE_OPTIONS:+$NODE_OPTIONS }--require $here/better-sqlite3-abi-hook.js"
export JOINERY_SKIP_BUILD=1
cd "$root"
exec "$node" "$root/node_modules/jest/bin/jest.js" --config "$here/jest.config.js" "$@"
