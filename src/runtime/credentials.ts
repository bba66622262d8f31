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
 * Every value credential dropping needs, computed ahead: the init plans while it waits on the
 * start gate, so only the syscalls remain between the gate and the exec.
 */
export interface CredentialPlan {
  rlimits: { type: string; soft: bigint; hard: bigint }[];
  /** Capabilities to drop from the bounding set, ascending. */
  dropBounding: number[];
  uid: number;
  gid: number;
  groups: readonly number[];
  /** Absent: leave capabilities as they are (no capabilities object in the spec). */
  caps?: { effective: bigint; permitted: bigint; inheritable: bigint; ambient: number[] };
  noNewPrivs: boolean;
}

/**
 * Plans the process's credentials. Capabilities outside `available` (the init's own bounding
 * set) cannot be granted (e.g. `--privileged` on a host whose root lacks CAP_SYS_RESOURCE):
 * what exists is granted, as Docker's "all capabilities" does.
 */
export function planCredentials(
  proc: OciProcess,
  lastCap = 40,
  available: bigint = (1n << 64n) - 1n,
): CredentialPlan {
  const bits = (mask: bigint): number[] => {
    const out: number[] = [];
    for (let cap = 0; cap <= lastCap; cap++) if ((mask & (1n << BigInt(cap))) !== 0n) out.push(cap);
    return out;
  };
  const caps = proc.capabilities;
  // No capabilities object means "leave them as they are" (OCI); Docker always sends one.
  let dropBounding: number[] = [];
  let planned: CredentialPlan["caps"];
  if (caps) {
    const all = (1n << BigInt(lastCap + 1)) - 1n;
    dropBounding = bits(all & ~(capMask(caps.bounding, lastCap) & available));
    const ambient = capMask(caps.ambient, lastCap) & available;
    planned = {
      effective: capMask(caps.effective, lastCap) & available,
      permitted: (capMask(caps.permitted, lastCap) | ambient) & available,
      inheritable: (capMask(caps.inheritable, lastCap) | ambient) & available,
      ambient: bits(ambient),
    };
  }
  return {
    rlimits: (proc.rlimits ?? []).map((r) => ({
      type: r.type,
      soft: rlimitValue(r.soft),
      hard: rlimitValue(r.hard),
    })),
    dropBounding,
    uid: proc.user.uid,
    gid: proc.user.gid,
    groups: proc.user.additionalGids ?? [],
    ...(planned ? { caps: planned } : {}),
    noNewPrivs: proc.noNewPrivileges === true,
  };
}

/**
 * Carries out a {@link planCredentials} plan with `sys`, in order. Throws the underlying error
 * with a message naming the step (e.g. `Cannot set RLIMIT_NOFILE …: EPERM (…)`).
 */
export function applyCredentialPlan(plan: CredentialPlan, sys: CredentialSyscalls): void {
  for (const r of plan.rlimits) sys.setRlimit(r.type, r.soft, r.hard);
  for (const cap of plan.dropBounding) sys.dropBounding(cap);
  const changingUid = plan.uid !== 0;
  if (changingUid && plan.caps) sys.keepCaps(true);
  sys.setgroups(plan.groups);
  sys.setgid(plan.gid);
  sys.setuid(plan.uid);
  if (plan.caps) {
    sys.capset(plan.caps.effective, plan.caps.permitted, plan.caps.inheritable);
    for (const cap of plan.caps.ambient) sys.raiseAmbient(cap);
    if (changingUid) sys.keepCaps(false);
  }
  if (plan.noNewPrivs) sys.noNewPrivs();
}

/**
 * Applies the process's credentials with `sys`, in order ({@link planCredentials} then
 * {@link applyCredentialPlan}).
 */
export function applyCredentials(
  proc: OciProcess,
  sys: CredentialSyscalls,
  lastCap = 40,
  available: bigint = (1n << 64n) - 1n,
): void {
  applyCredentialPlan(planCredentials(proc, lastCap, available), sys);
}
