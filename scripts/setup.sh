#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine (as root) to build, test and demo docker-ts. Idempotent:
# installs only what is missing, runs `apt-get update` at most once, and rebuilds the fixture
# images only when their inputs changed.
#
#   bash scripts/setup.sh          # then: bash scripts/demo.sh  or  bash scripts/test.sh
#
# Deno: when no Deno 2 is on PATH, it is installed from npm into the project-local prefix
# `.tools/` (binary at `.tools/bin/deno`); every script in scripts/ and .ci/run put `.tools/bin`
# first on PATH, so nothing outside the checkout is touched.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"
export PATH="$repo/.tools/bin:$PATH"
export DEBIAN_FRONTEND=noninteractive

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (installs Debian packages; the tests need root)"
command -v apt-get >/dev/null || die "apt-get not found: this script targets Debian 12"

# Debian packages: what docker-ts itself and its tests use.
#   busybox-static  fixture images          docker-registry  a real registry for pull/push tests
#   skopeo umoci    format cross-checks     podman crun runc  peers for comparisons and benches
#   debootstrap     a big real rootfs for the pull bench
#   iproute2 iptables nftables  networking  attr  getfattr for xattr cross-checks
#   util-linux (unshare, mount)  ca-certificates, git
packages=(
  busybox-static docker-registry skopeo umoci debootstrap iproute2 iptables nftables podman
  crun runc attr util-linux ca-certificates git apache2-utils
)
deno_ok() {
  command -v deno >/dev/null 2>&1 || return 1
  deno --version 2>/dev/null | head -1 | grep -qE '^deno 2\.'
}
missing=()
# npm only matters when Deno must be installed, and only when no npm exists at all (a nodejs
# from elsewhere brings its own npm, which Debian's npm package would conflict with).
if ! deno_ok && ! command -v npm >/dev/null 2>&1; then packages+=(npm); fi
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
else
  say "Debian packages present"
fi

# overlayfs is how unpacked layers become a rootfs; load the module when it is not built in.
grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || say "warning: no overlayfs"

# The Debian registry package starts a system service on some setups; tests start their own on
# a free port, so a running system instance is harmless and left alone.

if ! deno_ok; then
  say "installing Deno 2 from npm into .tools/"
  npm install --global --prefix "$repo/.tools" --no-audit --no-fund --loglevel=error deno@2 >/dev/null
  deno_ok || die "Deno 2 is still not runnable after npm install (looked in $repo/.tools/bin)"
fi
say "using $(command -v deno) ($(deno --version | head -1))"

# npm dependencies as pinned by deno.lock, into node_modules/ ("nodeModulesDir": "auto").
say "fetching npm dependencies (deno install)"
deno install --quiet

say "building fixture images"
deno run -A scripts/build_fixtures.ts
say "done"
