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

/** Creates `path` and its missing parents (0755), owned by uid:gid (Docker's `-w` behaviour). */
export function mkdirOwned(path: string, uid: number, gid: number): void {
  const missing: string[] = [];
  let p = path;
  while (p !== "/" && p !== "") {
    try {
      Deno.statSync(p);
      break;
    } catch {
      missing.unshift(p);
      p = p.slice(0, p.lastIndexOf("/")) || "/";
    }
  }
  for (const dir of missing) {
    Deno.mkdirSync(dir, { mode: 0o755 });
    Deno.chownSync(dir, uid, gid);
  }
}
