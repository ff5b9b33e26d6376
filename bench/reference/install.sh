#!/usr/bin/env bash
# install.sh installs the Node reference relay @eyevinn/hls-pull-push@0.6.0
# into a temporary npm prefix (never into the repository).
#
# Usage: bench/reference/install.sh [DIR]
#   DIR defaults to $PULLPUSH_BENCH_REF or ${TMPDIR:-/tmp}/pullpush-bench-ref.
# Then: go run ./bench run --relay reference --ref-dir DIR ...
#
# The package depends on the npm placeholder package "fs@^0.0.1-security",
# which some registries no longer serve; Node's built-in fs is what the code
# uses, so an npm override points that dependency at an empty local stub.
set -euo pipefail
dir="${1:-${PULLPUSH_BENCH_REF:-${TMPDIR:-/tmp}/pullpush-bench-ref}}"
mkdir -p "$dir/fs-stub"
cat > "$dir/fs-stub/package.json" <<'JSON'
{"name": "fs", "version": "0.0.1-security", "description": "empty stub: Node's built-in fs is used"}
JSON
cat > "$dir/package.json" <<'JSON'
{
  "name": "pullpush-bench-reference",
  "private": true,
  "dependencies": {"@eyevinn/hls-pull-push": "0.6.0"},
  "overrides": {"fs": "file:./fs-stub"}
}
JSON
npm install --prefix "$dir" --no-audit --no-fund --omit=dev
node -e "console.log('installed @eyevinn/hls-pull-push', require('$dir/node_modules/@eyevinn/hls-pull-push/package.json').version, 'in $dir')"
