/**
 * The real credential syscalls and the small host facts shared by both launch paths: the
 * container's init (two-stage) and the launch Worker's one-stage setup (init_direct.ts). Every
 * call here acts on the calling thread only (raw syscalls, never glibc's broadcasting wrappers,
 * DENO-FACTS 6), except rlimits, which are per process — the one-stage path never sets them.
 *
 * @module
 */
import {
  capset,
  PR_CAP_AMBIENT,
  PR_CAP_AMBIENT_RAISE,
  PR_CAPBSET_DROP,
  PR_SET_KEEPCAPS,
  PR_SET_NO_NEW_PRIVS,
  prctl,
  RLIMITS,
  setgroups,
  setresgid,
  setresuid,
  setRlimit,
} from "../../ffi/process.ts";
import type { CredentialSyscalls } from "./credentials.ts";

/** The credential steps of {@link CredentialSyscalls}, done with real per-thread syscalls. */
export const realCredentialSyscalls: CredentialSyscalls = {
  setRlimit(name, soft, hard) {
    const resource = RLIMITS[name];
    if (resource === undefined) throw new Error(`Unknown rlimit "${name}"`);
    try {
      setRlimit(resource, { soft, hard }, 0, name);
    } catch (err) {
      if ((err as { code?: string }).code === "EPERM") {
        throw new Error(
          `Cannot set ${name} to soft ${soft} hard ${hard}: raising a hard limit needs ` +
            `CAP_SYS_RESOURCE, which this host's root lacks`,
          { cause: err },
        );
      }
      throw err;
    }
  },
  dropBounding(cap) {
    prctl(PR_CAPBSET_DROP, cap, 0, 0, 0, `PR_CAPBSET_DROP ${cap}`);
  },
  keepCaps(on) {
    prctl(PR_SET_KEEPCAPS, on ? 1 : 0, 0, 0, 0, "PR_SET_KEEPCAPS");
  },
  setgroups,
  setgid(gid) {
    setresgid(gid, gid, gid);
  },
  setuid(uid) {
    setresuid(uid, uid, uid);
  },
  capset(effective, permitted, inheritable) {
    capset({ effective, permitted, inheritable });
  },
  raiseAmbient(cap) {
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0, `PR_CAP_AMBIENT_RAISE ${cap}`);
  },
  noNewPrivs() {
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, "PR_SET_NO_NEW_PRIVS");
  },
};

/** The kernel's highest capability number (/proc/sys/kernel/cap_last_cap), 40 if unreadable. */
export function lastCap(): number {
  try {
    return Number(Deno.readTextFileSync("/proc/sys/kernel/cap_last_cap").trim());
  } catch {
    return 40;
  }
}

/**
 * The capability bounding set of the task whose status file is `statusPath` (what it can still
 * grant); everything when unreadable.
 */
export function boundingSetOf(statusPath: string): bigint {
  try {
    const m = /^CapBnd:\s*([0-9a-f]+)$/m.exec(Deno.readTextFileSync(statusPath));
    if (m) return BigInt(`0x${m[1]}`);
  } catch {
    // fall back to "everything"
  }
  return (1n << 64n) - 1n;
}

/**
 * Creates the working directory and its missing parents (0755, root-owned, as Docker does),
 * following symlinks in the path. Runs after pivot_root, so every link — absolute or relative —
 * resolves inside the container's root; a dangling link gets its target created, as runc does.
 */
export function mkdirWorkdir(path: string): void {
  const parts = path.split("/").filter((p) => p !== "" && p !== ".");
  let resolved = "";
  let hops = 0;
  while (parts.length > 0) {
    const name = parts.shift()!;
    if (name === "..") {
      resolved = resolved.slice(0, resolved.lastIndexOf("/"));
      continue;
    }
    const next = `${resolved}/${name}`;
    let info: Deno.FileInfo | undefined;
    try {
      info = Deno.lstatSync(next);
    } catch {
      info = undefined;
    }
    if (info?.isSymlink) {
      if (++hops > 40) throw new Error(`Cannot create working directory "${path}": too many links`);
      const target = Deno.readLinkSync(next);
      parts.unshift(...target.split("/").filter((p) => p !== "" && p !== "."));
      if (target.startsWith("/")) resolved = "";
      continue;
    }
    if (!info) Deno.mkdirSync(next, { mode: 0o755 });
    resolved = next;
  }
}
