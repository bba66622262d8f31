#!/usr/bin/env bash
# Per-syscall seccomp overhead INSIDE a container, docker-ts side by side with crun, in ONE run
# on this machine (root only). The workload is
#     busybox dd if=/dev/zero of=/dev/null bs=1 count=N        (N reads + N writes of 1 byte)
# because a shell loop is dominated by the shell. Each variant is timed as a whole process
# (wall clock, median of RUNS) once with count=N and once with count=0; the difference divided
# by 2N is the cost of one read/write round trip through the kernel, filter included:
#   docker-ts  run --rm busybox …                                   default filter (Seccomp: 2)
#   docker-ts  run --rm --security-opt seccomp=unconfined busybox … no filter
#   crun       run on a bundle (host busybox-static rootfs, `crun spec` config):
#                no linux.seccomp / containers-common's /usr/share/containers/seccomp.json /
#                docker-ts's default profile, both resolved for crun's capabilities into the
#                OCI form and compiled by crun (libseccomp)
# crun refuses this hybrid-cgroup host; it runs inside `unshare -m` with the cgroup2 mount
# hidden (the unshare+sh wrapper is in both its N and 0 timings, so it cancels out).
#
# Usage: bash bench/seccomp_container_bench.sh [N] [runs]   (default 2000000 and 5)
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-2000000}"
RUNS="${2:-5}"
[ "$(id -u)" = 0 ] || { echo "seccomp_container_bench: needs root" >&2; exit 1; }
[ -f .fixtures/busybox.tar ] || deno run -A scripts/build_fixtures.ts >/dev/null

W="$(mktemp -d /tmp/docker-ts-seccomp-bench.XXXXXX)"
trap 'rm -rf "$W"' EXIT
export DOCKER_TS_DEFAULT_NETWORK=none
DTS="deno run -A mod.ts --root $W/dts/root --runroot $W/dts/run"
$DTS load -i .fixtures/busybox.tar >/dev/null

# Median wall time in ns of a shell command, over RUNS runs (after one warm-up).
median_ns() {
  local cmd="$1" i t0 t1 times=()
  sh -c "$cmd" >/dev/null 2>"$W/err" || {
    echo "seccomp_container_bench: failed: $cmd: $(head -c 300 "$W/err")" >&2
    exit 1
  }
  for ((i = 0; i < RUNS; i++)); do
    t0=$(date +%s%N)
    sh -c "$cmd" >/dev/null 2>&1
    t1=$(date +%s%N)
    times+=($((t1 - t0)))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

DD="dd if=/dev/zero of=/dev/null bs=1 count"
rows=()
measure() { # label, command template with @COUNT@
  local label="$1" tpl="$2" tn t0
  tn=$(median_ns "${tpl//@COUNT@/$N}")
  t0=$(median_ns "${tpl//@COUNT@/0}")
  rows+=("$(awk -v l="$label" -v a="$tn" -v b="$t0" -v n="$N" \
    'BEGIN { printf "%-58s %9.1f %12.1f\n", l, (a - b) / (2 * n), (a - b) / 1e6 }')")
}

# Sanity: the filter is on by default and off with unconfined.
mode() { $DTS run --rm "$@" busybox grep Seccomp: /proc/self/status | awk '{print $2}'; }
[ "$(mode)" = 2 ] || { echo "seccomp_container_bench: default container has no filter" >&2; exit 1; }
[ "$(mode --security-opt seccomp=unconfined)" = 0 ] || exit 1

measure "docker-ts, default filter" "$DTS run --rm busybox $DD=@COUNT@"
measure "docker-ts, seccomp=unconfined" "$DTS run --rm --security-opt seccomp=unconfined busybox $DD=@COUNT@"

if command -v crun >/dev/null; then
  B="$W/bundle"
  mkdir -p "$B/rootfs/bin" "$B/rootfs/proc" "$B/rootfs/sys" "$B/rootfs/dev"
  cp /bin/busybox "$B/rootfs/bin/busybox"
  (cd "$B" && crun spec)
  # One config per variant; profiles resolved for crun's own capability set (as podman does).
  deno run -A - "$B" <<'EOF'
import { defaultProfile } from "./src/security/seccomp/default_profile.ts";
import { parseProfile, parseProfileJson } from "./src/security/seccomp/profile.ts";
import { resolveProfile, toOciSeccomp } from "./src/security/seccomp/resolve.ts";
const bundle = Deno.args[0];
const base = JSON.parse(Deno.readTextFileSync(`${bundle}/config.json`));
base.process.terminal = false;
base.root.path = `${bundle}/rootfs`; // shared by the per-variant bundle dirs
base.process.args = ["/bin/busybox", "dd", "if=/dev/zero", "of=/dev/null", "bs=1", "count=COUNT"];
const opts = { capabilities: base.process.capabilities.bounding as string[] };
const variants: Record<string, unknown> = {
  none: undefined,
  ours: toOciSeccomp(resolveProfile(parseProfile(defaultProfile()), opts)),
};
try {
  const text = Deno.readTextFileSync("/usr/share/containers/seccomp.json");
  variants.containers = toOciSeccomp(resolveProfile(parseProfileJson(text), opts));
} catch {
  // containers-common not installed: that variant is skipped
}
for (const [name, seccomp] of Object.entries(variants)) {
  const cfg = structuredClone(base);
  if (seccomp) cfg.linux.seccomp = seccomp;
  Deno.writeTextFileSync(`${bundle}/config-${name}.json`, JSON.stringify(cfg));
}
EOF
  for v in none containers ours; do
    [ -f "$B/config-$v.json" ] || continue
    mkdir -p "$W/b-$v"
    sed "s/count=COUNT/count=@COUNT@/" "$B/config-$v.json" >"$W/b-$v/config.tpl"
    # The template is filled per measurement by the command itself.
    cmd="sed 's/@''COUNT@/@COUNT@/' $W/b-$v/config.tpl > $W/b-$v/config.json && unshare -m --propagation private sh -c 'umount /sys/fs/cgroup/unified 2>/dev/null; exec crun --root $W/crun-state run -b $W/b-$v bench-$v'"
    case $v in
      none) label="crun, no filter" ;;
      containers) label="crun, containers-common seccomp.json" ;;
      ours) label="crun, docker-ts default profile (libseccomp)" ;;
    esac
    measure "$label" "$cmd"
  done
else
  rows+=("crun not installed: skipped")
fi

echo "per-syscall overhead inside a container: busybox dd bs=1 count=$N (2N syscalls), median of $RUNS"
printf "%-58s %9s %12s\n" "variant" "ns/syscall" "ms (N - 0)"
printf '%s\n' "${rows[@]}"
