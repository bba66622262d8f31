#!/usr/bin/env bash
# Runs the whole test suite and ends with one plain line: "N passed, N failed[, N skipped]".
# Usage: bash scripts/test.sh [deno test args…]   (default: tests/)
set -uo pipefail
cd "$(dirname "$0")/.."
junit="$(mktemp -t docker-ts-junit.XXXXXX.xml)"
args=("$@")
[ ${#args[@]} -eq 0 ] && args=(tests/)
deno test -A --no-prompt --junit-path="$junit" "${args[@]}"
rc=$?
deno run --allow-read scripts/junit_summary.ts "$junit" "$rc"
src=$?
rm -f "$junit"
[ $rc -ne 0 ] && exit $rc
exit $src
