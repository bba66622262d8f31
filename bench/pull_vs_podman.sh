#!/usr/bin/env bash
# Pull bench: a `debootstrap --variant=minbase bookworm` rootfs, packed as a 3-layer gzip image
# and pushed to a local docker-registry, pulled by docker-ts and by `podman pull` side by side
# (each into a fresh temp root, page cache warm for both). Prints both wall times, the ratio
# (goal: docker-ts <= 0.6 x podman) and docker-ts's unpack throughput.
#
# Usage: bash bench/pull_vs_podman.sh [runs]   (root; needs debootstrap, docker-registry, podman)
# Env: MIRROR (default: the first URI in /etc/apt/sources.list.d/debian.sources),
#      BENCH_DIR (default .tmp/bench; the rootfs and layers are cached there between runs),
#      BASELINE (optional: another checkout, e.g. `git archive HEAD | tar -x -C DIR`; its
#      bench/pull_bench.ts is timed too in every run, so before/after share the same conditions).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-3}"
BENCH_DIR="${BENCH_DIR:-.tmp/bench}"
MIRROR="${MIRROR:-$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || echo http://deb.debian.org/debian)}"
mkdir -p "$BENCH_DIR"
BENCH_DIR="$(cd "$BENCH_DIR" && pwd)"

if [ ! -d "$BENCH_DIR/rootfs" ]; then
  echo "debootstrap --variant=minbase bookworm from $MIRROR ..." >&2
  rm -rf "$BENCH_DIR/rootfs.partial"
  debootstrap --variant=minbase bookworm "$BENCH_DIR/rootfs.partial" "$MIRROR" >"$BENCH_DIR/debootstrap.log" 2>&1
  mv "$BENCH_DIR/rootfs.partial" "$BENCH_DIR/rootfs"
fi
if [ ! -f "$BENCH_DIR/l3.tar.gz" ]; then
  echo "packing layers ..." >&2
  R="$BENCH_DIR/rootfs"
  tar --numeric-owner --xattrs -C "$R" -cf - ./usr/lib | gzip -6 >"$BENCH_DIR/l1.tar.gz"
  tar --numeric-owner --xattrs -C "$R" --exclude=./usr/lib -cf - ./usr | gzip -6 >"$BENCH_DIR/l2.tar.gz"
  tar --numeric-owner --xattrs -C "$R" --exclude=./usr -cf - . | gzip -6 >"$BENCH_DIR/l3.tar.gz"
fi

WORK="$(mktemp -d -t docker-ts-pullbench.XXXXXX)"
PORT="$(deno eval 'const l = Deno.listen({hostname: "127.0.0.1", port: 0}); console.log(l.addr.port); l.close()')"
HOST="127.0.0.1:$PORT"
cat >"$WORK/registry.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $WORK/registry
http:
  addr: $HOST
EOF
/usr/bin/docker-registry serve "$WORK/registry.yml" >"$WORK/registry.log" 2>&1 &
REG_PID=$!
cleanup() {
  kill "$REG_PID" 2>/dev/null || true
  wait "$REG_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
for _ in $(seq 1 100); do curl -sf "http://$HOST/v2/" >/dev/null && break; sleep 0.05; done

deno run -A bench/pull_bench.ts push "$HOST" bench/debian:bookworm \
  "$BENCH_DIR/l1.tar.gz" "$BENCH_DIR/l2.tar.gz" "$BENCH_DIR/l3.tar.gz" >/dev/null
REF="$HOST/bench/debian:bookworm"

cat >"$WORK/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF

now_ms() { date +%s%3N; }
best_ts=""; best_pm=""; best_bl=""; out=""
for i in $(seq 1 "$RUNS"); do
  rm -rf "$WORK/ts" "$WORK/pm" "$WORK/bl"
  sync
  if [ -n "${BASELINE:-}" ]; then
    b0=$(now_ms)
    (cd "$BASELINE" && deno run -A bench/pull_bench.ts pull "$WORK/bl" "$REF" >/dev/null)
    b1=$(now_ms)
    bl=$((b1 - b0))
    if [ -z "$best_bl" ] || [ "$bl" -lt "$best_bl" ]; then best_bl=$bl; fi
    echo "run $i: baseline docker-ts ${bl} ms (whole process)"
    rm -rf "$WORK/bl"
    sync
  fi
  t0=$(now_ms)
  out="$(deno run -A bench/pull_bench.ts pull "$WORK/ts" "$REF")"
  t1=$(now_ms)
  CONTAINERS_CONF="$WORK/containers.conf" podman --root "$WORK/pm/root" --runroot "$WORK/pm/run" \
    --storage-driver overlay pull -q --tls-verify=false "$REF" >/dev/null
  t2=$(now_ms)
  ts=$((t1 - t0)); pm=$((t2 - t1))
  echo "run $i: docker-ts ${ts} ms (whole process), podman ${pm} ms; docker-ts detail $out"
  if [ -z "$best_ts" ] || [ "$ts" -lt "$best_ts" ]; then best_ts=$ts; fi
  if [ -z "$best_pm" ] || [ "$pm" -lt "$best_pm" ]; then best_pm=$pm; fi
  rm -rf "$WORK/ts"
  CONTAINERS_CONF="$WORK/containers.conf" podman --root "$WORK/pm/root" --runroot "$WORK/pm/run" \
    --storage-driver overlay system reset -f >/dev/null 2>&1 || true
  rm -rf "$WORK/pm"
done
unpacked=$(echo "$out" | sed -E 's/.*"unpacked":([0-9]+).*/\1/')
compressed=$(echo "$out" | sed -E 's/.*"compressed":([0-9]+).*/\1/')
awk -v ts="$best_ts" -v pm="$best_pm" -v bl="$best_bl" -v u="$unpacked" -v c="$compressed" 'BEGIN {
  printf "image: %.1f MB compressed, %.1f MB unpacked\n", c/1e6, u/1e6
  printf "best of runs: docker-ts %d ms, podman %d ms, ratio %.2f (goal <= 0.60)\n", ts, pm, ts/pm
  if (bl != "") printf "baseline (best of runs): %d ms, ratio %.2f to podman; this tree is %.2fx faster\n", bl, bl/pm, bl/ts
  printf "docker-ts unpack throughput: %.0f MB/s of unpacked data (whole pull, process start included)\n", u/1e6/(ts/1000)
}'
