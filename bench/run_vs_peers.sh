#!/usr/bin/env bash
# Times `run --rm busybox true` side by side, in ONE run, on this machine (root only):
#   docker-ts    deno run -A cli.ts … run --rm --network none busybox true   (in-process engine)
#   docker-ts-d  the same CLI against a running `docker-ts daemon` (how docker runs: CLI →
#                dockerd); the daemon keeps a warm init, so a start skips the init's boot
#   podman     podman run --rm --network none busybox true (runc, cgroupfs, file events, temp roots)
#   runc       runc run on a prepared bundle (busybox-static rootfs, `runc spec` config)
#   crun       crun run on the same bundle, inside `unshare -m` with the cgroup2 mount hidden
#              (crun refuses hybrid cgroup hosts); the unshare+sh wrapper is included in its time
# then prints medians, ratios to podman and docker-ts's per-stage breakdown (DOCKER_TS_TRACE=1).
#
# Usage: bash bench/run_vs_peers.sh [runs]   (default 20; hyperfine when installed, else a loop)
# Goal (issue "run"): docker-ts ≤ 0.4 × podman.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-20}"
[ "$(id -u)" = 0 ] || { echo "run_vs_peers: needs root" >&2; exit 1; }
[ -f .fixtures/busybox.tar ] || deno run -A scripts/build_fixtures.ts >/dev/null

W="$(mktemp -d /tmp/docker-ts-peers.XXXXXX)"
cleanup() {
  [ -n "${DAEMON_PID:-}" ] && kill "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null
  # Peers clean up their own containers (--rm, run); remove what is left of the temp roots.
  podman --root "$W/podman/root" --runroot "$W/podman/run" --storage-driver overlay \
    system reset --force >/dev/null 2>&1 || true
  umount -R "$W/podman/root/overlay" 2>/dev/null || true
  rm -rf "$W"
}
trap cleanup EXIT

DTS=(deno run -A cli.ts --root "$W/dts/root" --runroot "$W/dts/run")
"${DTS[@]}" load -i .fixtures/busybox.tar >/dev/null
# The daemon has its own roots and a socket outside the in-process runroot (which would
# otherwise find it and go through it too). --bridge none: the default network is none.
DOCKER_TS_TRACE=1 deno run -A cli.ts --root "$W/dtsd/root" --runroot "$W/dtsd/run" daemon \
  -H "unix://$W/dtsd.sock" --bridge none >"$W/dtsd.log" 2>&1 &
DAEMON_PID=$!
DTSD=(deno run -A cli.ts -H "unix://$W/dtsd.sock")
for _ in $(seq 100); do [ -S "$W/dtsd.sock" ] && break; sleep 0.1; done
"${DTSD[@]}" load -i .fixtures/busybox.tar >/dev/null

cat >"$W/containers.conf" <<'EOF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
EOF
export CONTAINERS_CONF="$W/containers.conf"
POD="podman --root $W/podman/root --runroot $W/podman/run --storage-driver overlay"
have_podman=0
if command -v podman >/dev/null && $POD load -i .fixtures/busybox.tar >/dev/null 2>&1; then
  have_podman=1
fi

# A bundle for runc/crun: busybox-static with a `true` applet, runc's default spec (new netns
# with only lo, like --network none), args = true, no terminal.
B="$W/bundle"
mkdir -p "$B/rootfs/bin" "$B/rootfs/proc" "$B/rootfs/sys" "$B/rootfs/dev"
cp /bin/busybox "$B/rootfs/bin/busybox"
ln -s busybox "$B/rootfs/bin/true"
ln -s busybox "$B/rootfs/bin/sh"
(cd "$B" && runc spec)
python3 - "$B/config.json" <<'EOF'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["process"]["args"] = ["true"]
c["process"]["terminal"] = False
c["root"]["readonly"] = False
json.dump(c, open(p, "w"), indent=1)
EOF
RUNC="runc --root $W/runc-state run -b $B bench-runc"
CRUN="unshare -m --propagation private sh -c 'umount /sys/fs/cgroup/unified 2>/dev/null; exec crun --root $W/crun-state run -b $B bench-crun'"

names=(docker-ts docker-ts-d)
cmds=("${DTS[*]} run --rm --network none busybox true" "${DTSD[*]} run --rm busybox true")
if [ $have_podman = 1 ]; then
  names+=(podman)
  cmds+=("$POD run --rm --network none busybox true")
fi
if command -v runc >/dev/null; then names+=(runc); cmds+=("$RUNC"); fi
if command -v crun >/dev/null; then names+=(crun); cmds+=("$CRUN"); fi

# Sanity: each command must succeed once before it is timed.
for i in "${!cmds[@]}"; do
  if ! sh -c "${cmds[$i]}" >/dev/null 2>"$W/err"; then
    echo "run_vs_peers: ${names[$i]} failed: $(head -c 300 "$W/err")" >&2
    exit 1
  fi
done

echo "run --rm busybox true, $RUNS runs each, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
if command -v hyperfine >/dev/null; then
  args=()
  for i in "${!cmds[@]}"; do args+=(-n "${names[$i]}" "${cmds[$i]}"); done
  hyperfine -N -w 3 -r "$RUNS" --export-json "$W/h.json" "${args[@]}" >/dev/null 2>"$W/herr" ||
    { cat "$W/herr" >&2; exit 1; }
  python3 - "$W/h.json" >"$W/medians" <<'EOF'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print(r["command"], r["median"] * 1000, sorted(r["times"])[int(0.9 * len(r["times"]))] * 1000)
EOF
else
  : >"$W/medians"
  for i in "${!cmds[@]}"; do
    for _ in 1 2 3; do sh -c "${cmds[$i]}" >/dev/null 2>&1; done
    ts=()
    for _ in $(seq "$RUNS"); do
      s=$(date +%s%N); sh -c "${cmds[$i]}" >/dev/null 2>&1; e=$(date +%s%N)
      ts+=($(((e - s) / 1000)))
    done
    printf '%s\n' "${ts[@]}" | sort -n | awk -v n="${names[$i]}" '{a[NR]=$1}
      END {print n, a[int((NR+1)/2)]/1000, a[int(0.9*NR)+0]/1000}' >>"$W/medians"
  done
fi
python3 - "$W/medians" <<'EOF'
import sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
med = {r[0]: float(r[1]) for r in rows}
print(f"{'':10} {'median ms':>10} {'p90 ms':>8} {'× podman':>9} {'× docker-ts':>12}")
for name, m, p90 in rows:
    pod = f"{float(m) / med['podman']:.2f}" if "podman" in med else "-"
    print(f"{name:10} {float(m):10.1f} {float(p90):8.1f} {pod:>9} {float(m) / med['docker-ts']:12.2f}")
if "podman" in med:
    goal = 0.4 * med["podman"]
    for name in ("docker-ts", "docker-ts-d"):
        if name in med:
            verdict = "met" if med[name] <= goal else "not met"
            print(f"goal {name} ≤ 0.4 × podman = {goal:.1f} ms: {verdict}")
EOF

# docker-ts stage breakdown: medians of the engine's trace lines over the same number of runs.
: >"$W/trace"
for _ in $(seq "$RUNS"); do
  DOCKER_TS_TRACE=1 "${DTS[@]}" run --rm --network none busybox true 2>>"$W/trace" >/dev/null
done
BOOT=$( { /usr/bin/time -f %e deno run -A cli.ts --version >/dev/null; } 2>&1 )
echo "docker-ts stages (median of $RUNS, ms; 'deno run cli.ts --version' alone: ${BOOT}s):"
python3 - "$W/trace" <<'EOF'
import re, sys, statistics
stages = {}
for line in open(sys.argv[1]):
    m = re.match(r"\[trace\] (\S+) ([\d.]+)ms", line)
    if m:
        stages.setdefault(m.group(1), []).append(float(m.group(2)))
for k, v in stages.items():
    print(f"  {k:16} {statistics.median(v):7.1f}")
EOF
echo "docker-ts daemon stages (median over every run above, ms):"
python3 - "$W/dtsd.log" <<'EOF'
import re, sys, statistics
stages = {}
for line in open(sys.argv[1]):
    m = re.match(r"\[trace\] (\S+) ([\d.]+)ms", line)
    if m:
        stages.setdefault(m.group(1), []).append(float(m.group(2)))
for k, v in stages.items():
    print(f"  {k:16} {statistics.median(v):7.1f}")
EOF
