/**
 * Resolves a Docker profile for one container: which architectures the filter admits, and which
 * rules apply given the container's capabilities, the host architecture and the kernel version
 * (Docker's `includes` / `excludes`). The result is also expressible as the OCI
 * `linux.seccomp` object, in which those conditions are already decided.
 *
 * @module
 */
import { COMPAT_ARCHES, type NativeArch, nativeArch } from "./arch.ts";
import type {
  SeccompActionName,
  SeccompArchName,
  SeccompArg,
  SeccompProfile,
  SeccompRuleFilter,
} from "./profile.ts";

/** What the compiler needs to know about the container and host. */
export interface SeccompTargetOptions {
  /** Host architecture (`x86_64`, `aarch64`, or Go's `amd64`, `arm64`); default: this host. */
  arch?: string;
  /** Capabilities the container holds (`CAP_SYS_ADMIN` or `SYS_ADMIN`); default: none. */
  capabilities?: Iterable<string>;
  /** Kernel release for `minKernel` (e.g. `6.18.0`); default: this host's. */
  kernel?: string;
}

/** A rule that applies to the container. */
export interface ResolvedRule {
  /** Syscall names. */
  names: string[];
  /** The action. */
  action: SeccompActionName;
  /** The rule's own errno / trace value, when given. */
  errnoRet?: number;
  /** Comparisons, all of which must hold. */
  args: SeccompArg[];
}

/** A profile decided for one container. */
export interface ResolvedProfile {
  /** The host architecture. */
  native: NativeArch;
  /** Admitted ABIs: the native one first, then its listed compatible sub-architectures. */
  arches: SeccompArchName[];
  /** Action for unmatched syscalls. */
  defaultAction: SeccompActionName;
  /** errno for ERRNO actions without their own value. */
  defaultErrnoRet?: number;
  /** Applicable rules in profile order. */
  syscalls: ResolvedRule[];
  /** seccomp(2) flag names. */
  flags: string[];
}

/** The OCI runtime-spec `linux.seccomp` object (conditions already applied). */
export interface OciSeccomp {
  /** Action for unmatched syscalls. */
  defaultAction: SeccompActionName;
  /** errno for ERRNO actions without their own. */
  defaultErrnoRet?: number;
  /** Admitted ABIs. */
  architectures: SeccompArchName[];
  /** seccomp(2) flag names. */
  flags?: string[];
  /** Rules that apply. */
  syscalls: OciSeccompSyscall[];
}

/** One rule of {@link OciSeccomp}. */
export interface OciSeccompSyscall {
  /** Syscall names. */
  names: string[];
  /** Action. */
  action: SeccompActionName;
  /** errno / trace value. */
  errnoRet?: number;
  /** Comparisons (values above 2^53 as decimal strings). */
  args?: { index: number; value: number | string; valueTwo: number | string; op: string }[];
}

/** `CAP_SYS_ADMIN`, `sys_admin`, `SYS_ADMIN` → `CAP_SYS_ADMIN`. */
function canonicalCap(name: string): string {
  const up = name.trim().toUpperCase();
  return up.startsWith("CAP_") ? up : `CAP_${up}`;
}

function kernelTuple(release: string): [number, number] {
  const m = /^(\d+)\.(\d+)/.exec(release);
  return m ? [Number(m[1]), Number(m[2])] : [0, 0];
}

function kernelAtLeast(kernel: [number, number], min: string): boolean {
  const [maj, minor] = kernelTuple(min);
  return kernel[0] > maj || (kernel[0] === maj && kernel[1] >= minor);
}

function hostKernel(): string {
  try {
    return Deno.osRelease();
  } catch {
    return "0.0";
  }
}

/**
 * Decides which architectures and rules a profile yields for one container, following Docker:
 * a rule is dropped when `excludes` matches (any listed cap held, the host arch listed, or the
 * kernel at least `minKernel`) or when `includes` does not (a listed cap missing, the host arch
 * not listed, or the kernel older than `minKernel`).
 */
export function resolveProfile(
  profile: SeccompProfile,
  options: SeccompTargetOptions = {},
): ResolvedProfile {
  const native = nativeArch(options.arch);
  const caps = new Set([...(options.capabilities ?? [])].map(canonicalCap));
  const kernel = kernelTuple(options.kernel ?? hostKernel());
  const archHit = (list: string[]) => list.some((a) => native.aliases.includes(a));

  const applies = (inc: SeccompRuleFilter, exc: SeccompRuleFilter): boolean => {
    if (exc.arches.length && archHit(exc.arches)) return false;
    if (exc.caps.some((c) => caps.has(canonicalCap(c)))) return false;
    if (exc.minKernel && kernelAtLeast(kernel, exc.minKernel)) return false;
    if (inc.arches.length && !archHit(inc.arches)) return false;
    if (inc.caps.some((c) => !caps.has(canonicalCap(c)))) return false;
    if (inc.minKernel && !kernelAtLeast(kernel, inc.minKernel)) return false;
    return true;
  };

  const compat = COMPAT_ARCHES[native.scmp] ?? [];
  let listed: SeccompArchName[] = [];
  if (profile.architectures.length) listed = profile.architectures;
  else {
    const entry = profile.archMap.find((m) => m.architecture === native.scmp);
    if (entry) listed = entry.subArchitectures;
  }
  const arches: SeccompArchName[] = [native.scmp];
  for (const a of listed) if (compat.includes(a) && !arches.includes(a)) arches.push(a);

  return {
    native,
    arches,
    defaultAction: profile.defaultAction,
    ...(profile.defaultErrnoRet !== undefined ? { defaultErrnoRet: profile.defaultErrnoRet } : {}),
    syscalls: profile.syscalls
      .filter((r) => applies(r.includes, r.excludes))
      .map((r) => ({
        names: r.names,
        action: r.action,
        ...(r.errnoRet !== undefined ? { errnoRet: r.errnoRet } : {}),
        args: r.args,
      })),
    flags: profile.flags,
  };
}

function jsonU64(v: bigint): number | string {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
}

/**
 * The resolved profile as an OCI `linux.seccomp` object, for `config.json` and `inspect`. It
 * compiles to the same program as the profile it came from (for the same architecture); values
 * above 2^53 are written as decimal strings, which {@link parseProfile} accepts.
 */
export function toOciSeccomp(resolved: ResolvedProfile): OciSeccomp {
  return {
    defaultAction: resolved.defaultAction,
    ...(resolved.defaultErrnoRet !== undefined
      ? { defaultErrnoRet: resolved.defaultErrnoRet }
      : {}),
    architectures: [...resolved.arches],
    ...(resolved.flags.length ? { flags: [...resolved.flags] } : {}),
    syscalls: resolved.syscalls.map((r) => ({
      names: [...r.names],
      action: r.action,
      ...(r.errnoRet !== undefined ? { errnoRet: r.errnoRet } : {}),
      ...(r.args.length
        ? {
          args: r.args.map((a) => ({
            index: a.index,
            value: jsonU64(a.value),
            valueTwo: jsonU64(a.valueTwo),
            op: a.op,
          })),
        }
        : {}),
    })),
  };
}
