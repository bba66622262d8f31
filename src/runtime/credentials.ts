/**
 * Dropping privileges in the container's init, in the one order that works (DENO-FACTS 7):
 * rlimits → bounding set → keep-caps → groups/gid/uid (raw, per thread) → capset → ambient →
 * no_new_privs. The syscalls sit behind {@link CredentialSyscalls} so the order is unit-tested
 * with a recording fake; the init passes the real ones from ffi/process.ts.
 *
 * @module
 */
import type { OciProcess } from "./oci_spec.ts";

/** Linux capability numbers by name (`CAP_` prefix). */
export const CAPABILITIES: Readonly<Record<string, number>> = {
  CAP_CHOWN: 0,
  CAP_DAC_OVERRIDE: 1,
  CAP_DAC_READ_SEARCH: 2,
  CAP_FOWNER: 3,
  CAP_FSETID: 4,
  CAP_KILL: 5,
  CAP_SETGID: 6,
  CAP_SETUID: 7,
  CAP_SETPCAP: 8,
  CAP_LINUX_IMMUTABLE: 9,
  CAP_NET_BIND_SERVICE: 10,
  CAP_NET_BROADCAST: 11,
  CAP_NET_ADMIN: 12,
  CAP_NET_RAW: 13,
  CAP_IPC_LOCK: 14,
  CAP_IPC_OWNER: 15,
  CAP_SYS_MODULE: 16,
  CAP_SYS_RAWIO: 17,
  CAP_SYS_CHROOT: 18,
  CAP_SYS_PTRACE: 19,
  CAP_SYS_PACCT: 20,
  CAP_SYS_ADMIN: 21,
  CAP_SYS_BOOT: 22,
  CAP_SYS_NICE: 23,
  CAP_SYS_RESOURCE: 24,
  CAP_SYS_TIME: 25,
  CAP_SYS_TTY_CONFIG: 26,
  CAP_MKNOD: 27,
  CAP_LEASE: 28,
  CAP_AUDIT_WRITE: 29,
  CAP_AUDIT_CONTROL: 30,
  CAP_SETFCAP: 31,
  CAP_MAC_OVERRIDE: 32,
  CAP_MAC_ADMIN: 33,
  CAP_SYSLOG: 34,
  CAP_WAKE_ALARM: 35,
  CAP_BLOCK_SUSPEND: 36,
  CAP_AUDIT_READ: 37,
  CAP_PERFMON: 38,
  CAP_BPF: 39,
  CAP_CHECKPOINT_RESTORE: 40,
};

/** Bit mask of a list of capability names; unknown names are an error. */
export function capMask(names: readonly string[] | undefined, lastCap = 40): bigint {
  let mask = 0n;
  for (const raw of names ?? []) {
    const name = raw.toUpperCase().startsWith("CAP_")
      ? raw.toUpperCase()
      : `CAP_${raw.toUpperCase()}`;
    const n = CAPABILITIES[name];
    if (n === undefined) throw new Error(`Unknown capability "${raw}"`);
    // Capabilities the running kernel does not know cannot be granted; skip them as runc does.
    if (n <= lastCap) mask |= 1n << BigInt(n);
  }
  return mask;
}

/** The syscalls credential dropping needs; real ones in ffi/process.ts, fakes in tests. */
export interface CredentialSyscalls {
  /** prlimit(0, resource, {soft, hard}). */
  setRlimit(name: string, soft: bigint, hard: bigint): void;
  /** prctl(PR_CAPBSET_DROP, cap). */
  dropBounding(cap: number): void;
  /** prctl(PR_SET_KEEPCAPS, on). */
  keepCaps(on: boolean): void;
  /** Raw setgroups. */
  setgroups(gids: readonly number[]): void;
  /** Raw setresgid(gid, gid, gid). */
  setgid(gid: number): void;
  /** Raw setresuid(uid, uid, uid). */
  setuid(uid: number): void;
  /** capset on the calling thread. */
  capset(effective: bigint, permitted: bigint, inheritable: bigint): void;
  /** prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap). */
  raiseAmbient(cap: number): void;
  /** prctl(PR_SET_NO_NEW_PRIVS, 1). */
  noNewPrivs(): void;
}

/** RLIM_INFINITY. */
const INFINITY = 0xffffffffffffffffn;

function rlimitValue(n: number): bigint {
  // OCI specs carry 2^64-1 as a JSON number, which rounds to 2^64; anything that large is infinity.
  return n < 0 || n >= 2 ** 63 ? INFINITY : BigInt(Math.trunc(n));
}

/**
 * Applies the process's credentials with `sys`, in order. Throws the underlying error with a
 * message naming the step (e.g. `Cannot set RLIMIT_NOFILE …: EPERM (…)`).
 */
export function applyCredentials(
  proc: OciProcess,
  sys: CredentialSyscalls,
  lastCap = 40,
  available: bigint = (1n << 64n) - 1n,
): void {
  for (const r of proc.rlimits ?? []) {
    sys.setRlimit(r.type, rlimitValue(r.soft), rlimitValue(r.hard));
  }
  const caps = proc.capabilities;
  // No capabilities object means "leave them as they are" (OCI); Docker always sends one.
  // Capabilities outside the init's own bounding set cannot be granted (e.g. `--privileged` on a
  // host whose root lacks CAP_SYS_RESOURCE): grant what exists, as Docker's "all capabilities" does.
  const bounding = caps ? capMask(caps.bounding, lastCap) & available : undefined;
  if (bounding !== undefined) {
    for (let cap = 0; cap <= lastCap; cap++) {
      if ((bounding & (1n << BigInt(cap))) === 0n) sys.dropBounding(cap);
    }
  }
  const uid = proc.user.uid;
  const changingUid = uid !== 0;
  if (changingUid && caps) sys.keepCaps(true);
  sys.setgroups(proc.user.additionalGids ?? []);
  sys.setgid(proc.user.gid);
  sys.setuid(uid);
  if (caps) {
    const ambient = capMask(caps.ambient, lastCap) & available;
    const inheritable = (capMask(caps.inheritable, lastCap) | ambient) & available;
    const permitted = (capMask(caps.permitted, lastCap) | ambient) & available;
    const effective = capMask(caps.effective, lastCap) & available;
    sys.capset(effective, permitted, inheritable);
    for (let cap = 0; cap <= lastCap; cap++) {
      if ((ambient & (1n << BigInt(cap))) !== 0n) sys.raiseAmbient(cap);
    }
    if (changingUid) sys.keepCaps(false);
  }
  if (proc.noNewPrivileges) sys.noNewPrivs();
}
