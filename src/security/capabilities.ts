/**
 * Linux capability names and numbers, Docker's default set, and Docker's `--cap-add` /
 * `--cap-drop` / `--privileged` arithmetic. Names are canonical (`CAP_CHOWN`).
 *
 * @module
 */
import { InvalidArgumentError } from "../errors.ts";

/** Capability number by canonical name (linux/capability.h). */
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

const BY_NUMBER: string[] = Object.entries(CAPABILITIES).reduce((acc, [name, n]) => {
  acc[n] = name;
  return acc;
}, [] as string[]);

/** Docker's default capability set (the 14 a container gets without flags). */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_FSETID",
  "CAP_FOWNER",
  "CAP_MKNOD",
  "CAP_NET_RAW",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETFCAP",
  "CAP_SETPCAP",
  "CAP_NET_BIND_SERVICE",
  "CAP_SYS_CHROOT",
  "CAP_KILL",
  "CAP_AUDIT_WRITE",
];

/** Number of a capability by name (`CHOWN`, `cap_chown` or `CAP_CHOWN`); undefined if unknown. */
export function capabilityNumber(name: string): number | undefined {
  return CAPABILITIES[canonical(name)];
}

/** Name of a capability number; undefined if unknown. */
export function capabilityName(n: number): string | undefined {
  return BY_NUMBER[n];
}

function canonical(name: string): string {
  const upper = name.trim().toUpperCase();
  return upper.startsWith("CAP_") ? upper : `CAP_${upper}`;
}

let lastCapCache: number | undefined;

/** Highest capability the running kernel knows (`/proc/sys/kernel/cap_last_cap`). */
export function kernelLastCap(): number {
  if (lastCapCache !== undefined) return lastCapCache;
  try {
    lastCapCache = Number(Deno.readTextFileSync("/proc/sys/kernel/cap_last_cap").trim());
  } catch {
    lastCapCache = BY_NUMBER.length - 1;
  }
  if (!Number.isInteger(lastCapCache)) lastCapCache = BY_NUMBER.length - 1;
  return lastCapCache;
}

/** Every capability known to both this table and the running kernel, in number order. */
export function allCapabilities(): string[] {
  const last = Math.min(kernelLastCap(), BY_NUMBER.length - 1);
  return BY_NUMBER.slice(0, last + 1);
}

function normalizeList(values: readonly string[], flag: string): string[] {
  const out: string[] = [];
  for (const v of values) {
    if (v.trim().toUpperCase() === "ALL") {
      out.push("ALL");
      continue;
    }
    const name = canonical(v);
    if (!(name in CAPABILITIES)) {
      throw new InvalidArgumentError(`Invalid ${flag} "${v}": unknown capability: "${name}"`);
    }
    if (!out.includes(name)) out.push(name);
  }
  return out;
}

/** Inputs of {@link resolveCapabilities}. */
export interface CapabilityOptions {
  capAdd?: readonly string[];
  capDrop?: readonly string[];
  privileged?: boolean;
  /** Starting set; Docker's default 14 unless given. */
  base?: readonly string[];
}

/**
 * The capability set a container gets, with Docker's rules: privileged gets all; `--cap-add ALL`
 * gives all minus the drops; `--cap-drop ALL` gives only the adds; otherwise base minus drops
 * plus adds.
 *
 * @example
 * ```ts
 * import { resolveCapabilities } from "./capabilities.ts";
 * const caps = resolveCapabilities({ capDrop: ["ALL"], capAdd: ["chown"] });
 * console.assert(caps.length === 1 && caps[0] === "CAP_CHOWN");
 * ```
 */
export function resolveCapabilities(options: CapabilityOptions): string[] {
  if (options.privileged) return allCapabilities();
  const add = normalizeList(options.capAdd ?? [], "--cap-add");
  const drop = normalizeList(options.capDrop ?? [], "--cap-drop");
  const base = options.base ?? DEFAULT_CAPABILITIES;
  let caps: string[];
  if (add.includes("ALL")) {
    caps = allCapabilities().filter((c) => !drop.includes(c));
  } else if (drop.includes("ALL")) {
    caps = [...add];
  } else {
    caps = base.filter((c) => !drop.includes(c));
    for (const c of add) if (!caps.includes(c)) caps.push(c);
  }
  return caps;
}
