#!/usr/bin/env bash
# The first thing to try after `bash scripts/setup.sh`: load the busybox image built locally from
# Debian's busybox-static, list it, and run a command in a container.
#
#   bash scripts/setup.sh && bash scripts/demo.sh
#
# State goes to a temporary --root/--runroot removed at the end, so the demo leaves nothing on the
# host. Set DOCKER_TS_DEMO_ROOT=/var/lib/docker-ts (for instance) to keep the loaded image.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.tools/bin:$PATH"

command -v deno >/dev/null || { echo "demo: deno not found; run: bash scripts/setup.sh" >&2; exit 1; }
[ -f .fixtures/busybox.tar ] || deno run -A scripts/build_fixtures.ts

if [ -n "${DOCKER_TS_DEMO_ROOT:-}" ]; then
  root="$DOCKER_TS_DEMO_ROOT"
  runroot="${DOCKER_TS_DEMO_RUNROOT:-/run/docker-ts}"
else
  tmp="$(mktemp -d -t docker-ts-demo.XXXXXX)"
  root="$tmp/root"
  runroot="$tmp/run"
  cleanup() {
    # Never delete through a mount a failed run might have left behind.
    if grep -q " ${tmp}/" /proc/self/mountinfo; then
      echo "demo: mounts remain under $tmp; not removing it" >&2
    else
      rm -rf "$tmp"
    fi
  }
  trap cleanup EXIT
fi

docker_ts() { deno run -A cli.ts --root "$root" --runroot "$runroot" "$@"; }
step() { printf '\n$ docker-ts %s\n' "$*"; }

step load -i .fixtures/busybox.tar
docker_ts load -i .fixtures/busybox.tar
step images
docker_ts images
step run --rm busybox echo hello from docker-ts
docker_ts run --rm busybox echo hello from docker-ts
