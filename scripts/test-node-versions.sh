#!/usr/bin/env bash
# Runs the test suite on the oldest Node that package.json's engines allows and on the newest Node
# release (`npm test` runs it, with the typecheck and lint, on the project's own Node 24). Each Node
# is the `node` package from the npm registry, installed outside the project (not a devDependency:
# every `npm ci` would fetch two more 120 MB binaries, and their `node` bins would clash), and kept
# in $PEREGRINE_NODE_CACHE (default: $TMPDIR/peregrine-node) for the next run.
#
#   npm run test:node-versions           # both
#   npm run test:node-versions -- 22.12.0  # one, or any other versions
set -euo pipefail
cd "$(dirname "$0")/.."

# The oldest Node that package.json's engines (>= 22.12) allows.
OLDEST=22.12.0
# The newest Node release on the npm registry when this was last bumped. To bump: set it to what
# `npm view node version` says, run this script, and fix what breaks.
NEWEST=26.10.0

if [ "$#" -eq 0 ]; then set -- "$OLDEST" "$NEWEST"; fi
cache="${PEREGRINE_NODE_CACHE:-${TMPDIR:-/tmp}/peregrine-node}"
failed=()
for version in "$@"; do
  dir="$cache/$version"
  node="$dir/node_modules/node/bin/node"
  if [ ! -x "$node" ] || [ "$("$node" -p process.versions.node 2>/dev/null)" != "$version" ]; then
    rm -rf "$dir" && mkdir -p "$dir"
    # The package's preinstall script puts the binary for this platform in place (as the project's
    # own package.json allows it to).
    echo '{ "private": true, "allowScripts": { "node": true } }' >"$dir/package.json"
    npm install --prefix "$dir" --no-save --no-package-lock --no-audit --no-fund --loglevel=error "node@$version"
  fi
  options="${NODE_OPTIONS:-}"
  # Before 22.18 (and 23.6), Node runs TypeScript only when asked to. NODE_OPTIONS reaches every
  # process the tests start (fixtures, examples, the CLI), not only the test runner; the warning
  # each of them would print about it is left out.
  if [ "$("$node" -p 'Boolean(process.features.typescript)')" = false ]; then
    options="$options --experimental-strip-types --disable-warning=ExperimentalWarning"
  fi
  echo "── Node $version: node --test \"test/**/*.test.ts\""
  start=$SECONDS
  if NODE_OPTIONS="$options" "$node" --test --test-concurrency=2 --test-reporter=spec "test/**/*.test.ts"; then
    echo "── Node $version: passed in $((SECONDS - start)) s"
  else
    echo "── Node $version: FAILED in $((SECONDS - start)) s"
    failed+=("$version")
  fi
done
if [ "${#failed[@]}" -gt 0 ]; then
  echo "Tests failed on Node ${failed[*]}" >&2
  exit 1
fi
