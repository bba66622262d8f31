/**
 * Tests declare what they need; unmet needs become `ignore` with a stated reason, printed once.
 *
 * ```ts
 * Deno.test({ name: "mounts overlay", ...requires("root", "overlay"), fn() {} });
 * ```
 *
 * @module
 */

/** Things a test may need. */
export type Need =
  | "root"
  | "overlay"
  | "cgroup-v1"
  | "cgroup-v2"
  | "busybox"
  | "docker-registry"
  | "skopeo"
  | "umoci"
  | "podman"
  | "docker-cli"
  | "nft"
  | "attr";

const BINARIES: Partial<Record<Need, string>> = {
  busybox: "/bin/busybox",
  "docker-registry": "/usr/bin/docker-registry",
  skopeo: "/usr/bin/skopeo",
  umoci: "/usr/bin/umoci",
  podman: "/usr/bin/podman",
  "docker-cli": "/usr/bin/docker",
  nft: "/usr/sbin/nft",
  attr: "/usr/bin/getfattr",
};

function exists(p: string): boolean {
  try {
    Deno.statSync(p);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string): boolean {
  const dirs = (Deno.env.get("PATH") ?? "").split(":").filter(Boolean);
  return dirs.some((d) => exists(`${d}/${name}`));
}

function isRoot(): boolean {
  return Deno.uid() === 0;
}

function check(need: Need): string | undefined {
  switch (need) {
    case "root":
      return isRoot() ? undefined : "needs root";
    case "overlay": {
      try {
        return Deno.readTextFileSync("/proc/filesystems").includes("overlay")
          ? undefined
          : "needs overlayfs";
      } catch {
        return "needs overlayfs";
      }
    }
    case "cgroup-v1":
      return exists("/sys/fs/cgroup/memory/memory.limit_in_bytes") ? undefined : "needs cgroup v1";
    case "cgroup-v2":
      return exists("/sys/fs/cgroup/cgroup.controllers") ||
          exists("/sys/fs/cgroup/unified/cgroup.controllers")
        ? undefined
        : "needs a cgroup2 mount";
    default: {
      const bin = BINARIES[need];
      if (bin && !exists(bin) && !onPath(bin.slice(bin.lastIndexOf("/") + 1))) {
        return `needs ${need} (${bin})`;
      }
      return undefined;
    }
  }
}

const reported = new Set<string>();

/** Returns `{ ignore }` for Deno.test: ignored (with the reason printed) when a need is unmet. */
export function requires(...needs: Need[]): { ignore: boolean } {
  const reasons = needs.map(check).filter((r): r is string => r !== undefined);
  if (reasons.length > 0) {
    const text = reasons.join(", ");
    if (!reported.has(text)) {
      reported.add(text);
      console.error(`[requires] skipping tests that ${text}`);
    }
    return { ignore: true };
  }
  return { ignore: false };
}
