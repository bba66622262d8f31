/**
 * Dropping privileges in the container's init, in the one order that works (DENO-FACTS 7):
 * rlimits → bounding set → keep-caps → groups/gid/uid (raw, per thread) → capset → ambient →
 * no_new_privs. The syscalls sit behind {@link CredentialSyscalls} so the order is unit-tested
 * with a recording fake; the init passes the real ones from ffi/process.ts.
 *
 * @module
 */
import type { OciProcess } from "./oci_spec.ts";

import { CAPABILITIES } from "../security/capabilities.ts";

export { CAPABILITIES };

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
