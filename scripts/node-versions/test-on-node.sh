#!/bin/sh
# Runs jest suites on another Node.js LTS from the npm registry:
#
#   scripts/node-versions/test-on-node.sh 24 test/unit test/api
#
# On Node 22 and newer the server loads better-sqlite3 13 (Node-API, prebuilt, installed as
# better-sqlite3-napi; see api/store/sqlite-driver.ts), so nothing is rebuilt per Node version.
# dist/ must be built (npm test or `npx tsc -p .` does it); the code under test is the same.
set -eu
major="${1:?usage: test-on-node.sh 22|24 [jest arguments...]}"
shift
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
node=$("$root/scripts/install-node.sh" "$major")
echo "jest on Node $("$node" --version)" >&2
export JOINERY_SKIP_BUILD=1
cd "$root"
exec "$node" "$root/node_modules/jest/bin/jest.js" "$@"
