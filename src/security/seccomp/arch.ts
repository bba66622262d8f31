/**
 * Architectures the compiler can build filter sections for: audit value, syscall table, the
 * number range that belongs to the ABI, and the names profiles use for it.
 *
 * @module
 */
import { InvalidArgumentError } from "../../errors.ts";
import type { SeccompArchName } from "./profile.ts";
import {
  SYSCALLS_AARCH64,
  SYSCALLS_I386,
  SYSCALLS_X32,
  SYSCALLS_X86_64,
} from "./syscall_tables.ts";

/** AUDIT_ARCH_X86_64 (EM_X86_64 | 64-bit | little-endian); x32 shares it. */
export const AUDIT_ARCH_X86_64 = 0xc000003e;
/** AUDIT_ARCH_I386. */
export const AUDIT_ARCH_I386 = 0x40000003;
/** AUDIT_ARCH_AARCH64. */
export const AUDIT_ARCH_AARCH64 = 0xc00000b7;
/** AUDIT_ARCH_ARM (little-endian EABI). */
export const AUDIT_ARCH_ARM = 0x40000028;
/** x32 syscalls carry this bit in `seccomp_data.nr` (and arrive with AUDIT_ARCH_X86_64). */
export const X32_SYSCALL_BIT = 0x40000000;

/** One ABI a filter section handles. */
export interface SeccompArch {
  /** libseccomp name. */
  scmp: SeccompArchName;
  /** Value of `seccomp_data.arch` for this ABI. */
  audit: number;
  /** Syscall name → number. */
  table: Readonly<Record<string, number>>;
  /** Lowest and highest `nr` that belong to this ABI under its audit value. */
  nrMin: number;
  nrMax: number;
  /** True when arguments are 32-bit: only the low word of each argument is meaningful. */
  args32: boolean;
}

/** The ABIs with syscall tables here. ARM (aarch64's compat ABI) has none yet: it is killed. */
export const ARCHES: Readonly<Record<string, SeccompArch>> = {
  SCMP_ARCH_X86_64: {
    scmp: "SCMP_ARCH_X86_64",
    audit: AUDIT_ARCH_X86_64,
    table: SYSCALLS_X86_64,
    nrMin: 0,
    nrMax: X32_SYSCALL_BIT - 1,
    args32: false,
  },
  SCMP_ARCH_X32: {
    scmp: "SCMP_ARCH_X32",
    audit: AUDIT_ARCH_X86_64,
    table: SYSCALLS_X32,
    nrMin: X32_SYSCALL_BIT,
    nrMax: 0xffffffff,
    args32: false,
  },
  SCMP_ARCH_X86: {
    scmp: "SCMP_ARCH_X86",
    audit: AUDIT_ARCH_I386,
    table: SYSCALLS_I386,
    nrMin: 0,
    nrMax: 0xffffffff,
    args32: true,
  },
  SCMP_ARCH_AARCH64: {
    scmp: "SCMP_ARCH_AARCH64",
    audit: AUDIT_ARCH_AARCH64,
    table: SYSCALLS_AARCH64,
    nrMin: 0,
    nrMax: 0xffffffff,
    args32: false,
  },
};

/** A host architecture the compiler targets. */
export interface NativeArch {
  /** `Deno.build.arch` spelling. */
  deno: "x86_64" | "aarch64";
  /** libseccomp name. */
  scmp: SeccompArchName;
  /** Names that `includes.arches` / `excludes.arches` use for it (Go's GOARCH first). */
  aliases: string[];
}

const NATIVE: Record<string, NativeArch> = {
  x86_64: { deno: "x86_64", scmp: "SCMP_ARCH_X86_64", aliases: ["amd64", "x86_64"] },
  aarch64: { deno: "aarch64", scmp: "SCMP_ARCH_AARCH64", aliases: ["arm64", "aarch64"] },
};

/**
 * The native architecture for a name (`x86_64`/`amd64`, `aarch64`/`arm64`).
 *
 * @throws InvalidArgumentError for any other architecture
 */
export function nativeArch(name: string = Deno.build.arch): NativeArch {
  const key = name === "amd64" ? "x86_64" : name === "arm64" ? "aarch64" : name;
  const arch = NATIVE[key];
  if (!arch) {
    throw new InvalidArgumentError(
      `Cannot compile a seccomp filter for architecture "${name}": only x86_64 and aarch64 are supported`,
    );
  }
  return arch;
}

/** Sub-architectures that can run on a native one (the only ones a filter may admit). */
export const COMPAT_ARCHES: Readonly<Record<string, readonly SeccompArchName[]>> = {
  SCMP_ARCH_X86_64: ["SCMP_ARCH_X86", "SCMP_ARCH_X32"],
  SCMP_ARCH_AARCH64: ["SCMP_ARCH_ARM"],
};
