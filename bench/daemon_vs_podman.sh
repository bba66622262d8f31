#!/usr/bin/env bash
# Detached-run bench: N × `run -d busybox sleep 600`, docker-ts side by side with podman.
#   - docker-ts, engine-hosted (what the daemon does): bench/daemon_bench.ts — batch wall time and
#     the supervising process's RSS growth per running container.
#   - docker-ts, one CLI process per run (`docker-ts run -d`, in-process engine): wall time.
#   - docker-ts daemon: the real `docker-ts daemon` driven by the real docker CLI: wall time and
#     the daemon process's RSS growth per running container (VmRSS before/after, after a warm-up).
#   - podman (runc, cgroupfs, file events; one CLI process per run): wall time and conmon's RSS
#     per container (podman keeps one conmon per container).
# Everything runs in temp roots and is removed at the end.
#
# Usage: bash bench/daemon_vs_podman.sh [N=100]   (root; needs podman and runc)
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-100}"
WORK="$(mktemp -d -t docker-ts-daemonbench.XXXXXX)"
cleanup() {
  podman "${PODMAN_ARGS[@]}" rm -f -a -t 0 >/dev/null 2>&1 || true
  for id in $(deno run -A mod.ts --root "$WORK/dts-root" --runroot "$WORK/dts-run" ps -aq 2>/dev/null); do
    deno run -A mod.ts --root "$WORK/dts-root" --runroot "$WORK/dts-run" rm -f "$id" >/dev/null 2>&1 || true
  done
  [ -n "${DPID:-}" ] && kill -9 "$DPID" 2>/dev/null || true
  for id in $(deno run -A mod.ts --root "$WORK/dd-root" --runroot "$WORK/dd-run" ps -aq 2>/dev/null); do
    DOCKER_TS_AUTOSTART=0 deno run -A mod.ts --root "$WORK/dd-root" --runroot "$WORK/dd-run" rm -f "$id" >/dev/null 2>&1 || true
  done
  umount -R "$WORK/podman-root/overlay" 2>/dev/null || true
  rm -rf "$WORK" 2>/dev/null || true
}
trap cleanup EXIT

deno run -A scripts/build_fixtures.ts >/dev/null 2>&1 || true
BUSYBOX="$PWD/.fixtures/busybox.tar"

echo "== docker-ts, engine-hosted (daemon-like), $N containers"
deno run -A --v8-flags=--expose-gc bench/daemon_bench.ts "$N"

echo "== docker-ts, one CLI process per run -d, $N containers"
DTS=(deno run -A mod.ts --root "$WORK/dts-root" --runroot "$WORK/dts-run")
"${DTS[@]}" load -i "$BUSYBOX" >/dev/null
start=$(date +%s.%N)
for _ in $(seq "$N"); do "${DTS[@]}" run -d --network none busybox sleep 600 >/dev/null; done
end=$(date +%s.%N)
echo "docker-ts CLI: $(echo "$end - $start" | bc) s wall ($("${DTS[@]}" ps -q | wc -l) running)"

echo "== docker-ts daemon (real API server), $N containers via the docker CLI"
DROOT=(--root "$WORK/dd-root" --runroot "$WORK/dd-run")
deno run -A mod.ts "${DROOT[@]}" load -i "$BUSYBOX" >/dev/null
deno run -A mod.ts "${DROOT[@]}" daemon -H "unix://$WORK/d.sock" --bridge none 2>"$WORK/daemon.log" &
DPID=$!
for _ in $(seq 200); do [ -S "$WORK/d.sock" ] && break; sleep 0.05; done
rss() { awk '/VmRSS/ {print $2}' "/proc/$DPID/status"; }
export DOCKER_HOST="unix://$WORK/d.sock" DOCKER_CONFIG="$WORK/docker-cli" DOCKER_CLI_HINTS=false
# Warm-up: first-use imports, Workers and caches are not per-container cost.
docker run -d busybox sleep 600 >/dev/null
docker rm -f "$(docker ps -q)" >/dev/null
sleep 1
rss0=$(rss)
start=$(date +%s.%N)
for _ in $(seq "$N"); do docker run -d busybox sleep 600 >/dev/null; done
end=$(date +%s.%N)
sleep 2
rss1=$(rss)
echo "docker-ts daemon: $(echo "$end - $start" | bc) s wall ($(docker ps -q | wc -l) running)"
echo "docker-ts daemon: RSS $((rss0 / 1024)) MiB -> $((rss1 / 1024)) MiB, $(echo "scale=3; ($rss1 - $rss0) / 1024 / $N" | bc) MiB per running container"
docker ps -q | xargs -r docker rm -f >/dev/null
kill "$DPID"; wait "$DPID" 2>/dev/null || true
unset DOCKER_HOST DOCKER_CONFIG DOCKER_CLI_HINTS

echo "== podman, $N containers"
cat >"$WORK/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
CONF
export CONTAINERS_CONF="$WORK/containers.conf"
PODMAN_ARGS=(--root "$WORK/podman-root" --runroot "$WORK/podman-run" --cgroup-manager cgroupfs --events-backend file --runtime runc)
podman "${PODMAN_ARGS[@]}" load -i "$BUSYBOX" >/dev/null
start=$(date +%s.%N)
for _ in $(seq "$N"); do podman "${PODMAN_ARGS[@]}" run -d --network none busybox sleep 600 >/dev/null; done
end=$(date +%s.%N)
conmons=$(ps -C conmon -o rss= | wc -l)
conmon_kib=$(ps -C conmon -o rss= | awk '{s+=$1} END {print s+0}')
echo "podman: $(echo "$end - $start" | bc) s wall ($(podman "${PODMAN_ARGS[@]}" ps -q | wc -l) running)"
if [ "$conmons" -gt 0 ]; then
  echo "podman: $conmons conmon processes, $(echo "scale=2; $conmon_kib / 1024 / $conmons" | bc) MiB RSS each"
fi
