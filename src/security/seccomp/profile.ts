/**
 * Docker's seccomp profile format (also the OCI `linux.seccomp` shape, which is its subset),
 * validated with zod: tolerant of unknown fields (profiles gain fields over time), strict on
 * values (an unknown action, operator or architecture is an error, never silently ignored).
 *
 * @module
 */
import { z } from "zod";
import { InvalidArgumentError } from "../../errors.ts";

/** Actions of Docker's profile format (`SCMP_ACT_KILL` is libseccomp's name for kill-thread). */
export const SECCOMP_ACTIONS = [
  "SCMP_ACT_KILL",
  "SCMP_ACT_KILL_THREAD",
  "SCMP_ACT_KILL_PROCESS",
  "SCMP_ACT_TRAP",
  "SCMP_ACT_ERRNO",
  "SCMP_ACT_TRACE",
  "SCMP_ACT_ALLOW",
  "SCMP_ACT_LOG",
  "SCMP_ACT_NOTIFY",
] as const;
/** One of {@link SECCOMP_ACTIONS}. */
export type SeccompActionName = typeof SECCOMP_ACTIONS[number];

/** Argument comparison operators. */
export const SECCOMP_OPERATORS = [
  "SCMP_CMP_NE",
  "SCMP_CMP_LT",
  "SCMP_CMP_LE",
  "SCMP_CMP_EQ",
  "SCMP_CMP_GE",
  "SCMP_CMP_GT",
  "SCMP_CMP_MASKED_EQ",
] as const;
/** One of {@link SECCOMP_OPERATORS}. */
export type SeccompOperator = typeof SECCOMP_OPERATORS[number];

/** Architecture names libseccomp knows; only some have syscall tables here (see arch.ts). */
export const SECCOMP_ARCHES = [
  "SCMP_ARCH_X86",
  "SCMP_ARCH_X86_64",
  "SCMP_ARCH_X32",
  "SCMP_ARCH_ARM",
  "SCMP_ARCH_AARCH64",
  "SCMP_ARCH_MIPS",
  "SCMP_ARCH_MIPS64",
  "SCMP_ARCH_MIPS64N32",
  "SCMP_ARCH_MIPSEL",
  "SCMP_ARCH_MIPSEL64",
  "SCMP_ARCH_MIPSEL64N32",
  "SCMP_ARCH_PPC",
  "SCMP_ARCH_PPC64",
  "SCMP_ARCH_PPC64LE",
  "SCMP_ARCH_S390",
  "SCMP_ARCH_S390X",
  "SCMP_ARCH_PARISC",
  "SCMP_ARCH_PARISC64",
  "SCMP_ARCH_RISCV64",
  "SCMP_ARCH_LOONGARCH64",
  "SCMP_ARCH_M68K",
  "SCMP_ARCH_SH",
  "SCMP_ARCH_SHEB",
] as const;
/** One of {@link SECCOMP_ARCHES}. */
export type SeccompArchName = typeof SECCOMP_ARCHES[number];

/** seccomp(2) filter flags a profile may ask for. */
export const SECCOMP_FLAGS = [
  "SECCOMP_FILTER_FLAG_TSYNC",
  "SECCOMP_FILTER_FLAG_LOG",
  "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
  "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
] as const;

const U64_MAX = (1n << 64n) - 1n;

/**
 * An unsigned 64-bit value: a JSON number (exact up to 2^53), a bigint, or a decimal/0x string
 * (the lossless spelling for values above 2^53, which `JSON.parse` would round).
 */
const u64 = z.union([z.number(), z.bigint(), z.string()]).transform((v, ctx): bigint => {
  let out: bigint | undefined;
  if (typeof v === "number") {
    if (Number.isInteger(v) && v >= 0 && v <= Number.MAX_SAFE_INTEGER) out = BigInt(v);
  } else if (typeof v === "bigint") {
    out = v;
  } else if (/^(0x[0-9a-f]+|\d+)$/i.test(v.trim())) {
    out = BigInt(v.trim());
  }
  if (out === undefined || out < 0n || out > U64_MAX) {
    ctx.addIssue({
      code: "custom",
      message: `must be an unsigned 64-bit integer (got ${JSON.stringify(String(v))})`,
    });
    return z.NEVER;
  }
  return out;
});

const argSchema = z.object({
  index: z.number().int().min(0).max(5),
  value: u64,
  valueTwo: u64.optional(),
  op: z.enum(SECCOMP_OPERATORS),
});

const kernelVersion = z.string().regex(/^\d+\.\d+$/, 'must look like "4.8" (major.minor)');

const filterSchema = z.object({
  caps: z.array(z.string()).nullish(),
  arches: z.array(z.string()).nullish(),
  minKernel: kernelVersion.nullish(),
});

const syscallSchema = z.object({
  names: z.array(z.string().min(1)).nullish(),
  /** The pre-1.12 singular spelling, still accepted by Docker. */
  name: z.string().min(1).nullish(),
  action: z.enum(SECCOMP_ACTIONS),
  errnoRet: z.number().int().min(0).max(65535).nullish(),
  args: z.array(argSchema).nullish(),
  includes: filterSchema.nullish(),
  excludes: filterSchema.nullish(),
  comment: z.string().nullish(),
}).refine((s) => (s.names?.length ?? 0) > 0 || !!s.name, {
  message: 'needs "names" (a non-empty list of syscall names)',
  path: ["names"],
});

const archMapSchema = z.object({
  architecture: z.enum(SECCOMP_ARCHES),
  subArchitectures: z.array(z.enum(SECCOMP_ARCHES)).nullish(),
});

const profileSchema = z.object({
  defaultAction: z.enum(SECCOMP_ACTIONS),
  defaultErrnoRet: z.number().int().min(0).max(65535).nullish(),
  architectures: z.array(z.enum(SECCOMP_ARCHES)).nullish(),
  archMap: z.array(archMapSchema).nullish(),
  syscalls: z.array(syscallSchema).nullish(),
  flags: z.array(z.enum(SECCOMP_FLAGS)).nullish(),
  listenerPath: z.string().nullish(),
  listenerMetadata: z.string().nullish(),
}).refine((p) => !(p.architectures?.length && p.archMap?.length), {
  message: 'use either "architectures" or "archMap", not both',
  path: ["architectures"],
});

/** One argument comparison after validation (values as bigints). */
export interface SeccompArg {
  /** Argument index, 0–5. */
  index: number;
  /** Compared value; for SCMP_CMP_MASKED_EQ the mask. */
  value: bigint;
  /** For SCMP_CMP_MASKED_EQ the value the masked argument must equal; 0 when absent. */
  valueTwo: bigint;
  /** The operator. */
  op: SeccompOperator;
}

/** Conditions under which a rule applies (Docker's `includes` / `excludes`). */
export interface SeccompRuleFilter {
  /** Capability names (as written). */
  caps: string[];
  /** Docker/Go architecture names (`amd64`, `arm64`, `x86`, `x32`, …). */
  arches: string[];
  /** `major.minor`, when given. */
  minKernel?: string;
}

/** One `syscalls[]` entry after validation. */
export interface SeccompRule {
  /** Syscall names; names unknown to an architecture are skipped for it, as libseccomp does. */
  names: string[];
  /** The action. */
  action: SeccompActionName;
  /** errno (SCMP_ACT_ERRNO) or tracer message (SCMP_ACT_TRACE), when given. */
  errnoRet?: number;
  /** Comparisons, all of which must hold (AND). */
  args: SeccompArg[];
  /** The rule applies only when all of these hold. */
  includes: SeccompRuleFilter;
  /** The rule is dropped when any of these holds. */
  excludes: SeccompRuleFilter;
}

/** A validated profile. */
export interface SeccompProfile {
  /** Action for syscalls no rule matches. */
  defaultAction: SeccompActionName;
  /** errno for a default SCMP_ACT_ERRNO (and rules without their own); EPERM when absent. */
  defaultErrnoRet?: number;
  /** Flat architecture list (OCI style), or empty. */
  architectures: SeccompArchName[];
  /** Native architecture → sub-architectures (Docker style), or empty. */
  archMap: { architecture: SeccompArchName; subArchitectures: SeccompArchName[] }[];
  /** The rules, in profile order. */
  syscalls: SeccompRule[];
  /** seccomp(2) flag names. */
  flags: string[];
}

/** An unsigned 64-bit value as written in JSON: a number, a bigint, or a decimal/0x string. */
export type U64Json = number | bigint | string;

/** `syscalls[].args[]` as written. */
export interface SeccompArgJson {
  /** Argument index, 0–5. */
  index: number;
  /** Compared value; the mask for SCMP_CMP_MASKED_EQ. */
  value: U64Json;
  /** The masked value for SCMP_CMP_MASKED_EQ. */
  valueTwo?: U64Json | null;
  /** Operator. */
  op: SeccompOperator;
}

/** `includes` / `excludes` as written. */
export interface SeccompRuleFilterJson {
  /** Capabilities. */
  caps?: string[] | null;
  /** Docker/Go architecture names. */
  arches?: string[] | null;
  /** `major.minor`. */
  minKernel?: string | null;
}

/** One `syscalls[]` entry as written. */
export interface SeccompSyscallJson {
  /** Syscall names. */
  names?: string[] | null;
  /** Old singular spelling. */
  name?: string | null;
  /** Action. */
  action: SeccompActionName;
  /** errno / trace value. */
  errnoRet?: number | null;
  /** Argument comparisons (ANDed). */
  args?: SeccompArgJson[] | null;
  /** Conditions that must all hold. */
  includes?: SeccompRuleFilterJson | null;
  /** Conditions any of which drops the rule. */
  excludes?: SeccompRuleFilterJson | null;
  /** Free text. */
  comment?: string | null;
}

/**
 * The profile as JSON-compatible data (what `defaultProfile()` returns and what a profile file
 * holds).
 */
export interface SeccompProfileJson {
  /** Action for unmatched syscalls. */
  defaultAction: SeccompActionName;
  /** errno for ERRNO actions without their own. */
  defaultErrnoRet?: number | null;
  /** Flat list (OCI style). */
  architectures?: SeccompArchName[] | null;
  /** Native → sub-architectures (Docker style). */
  archMap?: { architecture: SeccompArchName; subArchitectures?: SeccompArchName[] | null }[] | null;
  /** Rules. */
  syscalls?: SeccompSyscallJson[] | null;
  /** seccomp(2) flag names. */
  flags?: (typeof SECCOMP_FLAGS)[number][] | null;
}

// The schema must accept everything the JSON type describes.
const _schemaAcceptsJson: z.ZodType<unknown, SeccompProfileJson> = profileSchema;
void _schemaAcceptsJson;

function issuePath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) {
    if (typeof p === "number") out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out || "(root)";
}

function filter(f: z.output<typeof filterSchema> | null | undefined): SeccompRuleFilter {
  return {
    caps: f?.caps ?? [],
    arches: f?.arches ?? [],
    ...(f?.minKernel ? { minKernel: f.minKernel } : {}),
  };
}

/**
 * Validates a profile (parsed JSON) and normalises it.
 *
 * @throws InvalidArgumentError naming the first bad field, e.g.
 *   `Invalid seccomp profile: "syscalls[2].args[0].op": …`
 */
export function parseProfile(input: unknown): SeccompProfile {
  const r = profileSchema.safeParse(input);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new InvalidArgumentError(
      `Invalid seccomp profile: "${issuePath(issue.path)}" ${issue.message}`,
      { cause: r.error },
    );
  }
  const p = r.data;
  return {
    defaultAction: p.defaultAction,
    ...(p.defaultErrnoRet != null ? { defaultErrnoRet: p.defaultErrnoRet } : {}),
    architectures: p.architectures ?? [],
    archMap: (p.archMap ?? []).map((m) => ({
      architecture: m.architecture,
      subArchitectures: m.subArchitectures ?? [],
    })),
    syscalls: (p.syscalls ?? []).map((s) => ({
      names: s.names?.length ? s.names : [s.name!],
      action: s.action,
      ...(s.errnoRet != null ? { errnoRet: s.errnoRet } : {}),
      args: (s.args ?? []).map((a) => ({
        index: a.index,
        value: a.value,
        valueTwo: a.valueTwo ?? 0n,
        op: a.op,
      })),
      includes: filter(s.includes),
      excludes: filter(s.excludes),
    })),
    flags: p.flags ?? [],
  };
}

/**
 * Parses profile JSON text, keeping integers above 2^53 exact (as bigints) so that
 * 64-bit argument values survive; then validates it like {@link parseProfile}.
 *
 * @throws InvalidArgumentError for malformed JSON or an invalid profile
 */
export function parseProfileJson(text: string): SeccompProfile {
  let data: unknown;
  try {
    data = JSON.parse(text, (_key, value, context?: { source?: string }) => {
      if (
        typeof value === "number" && !Number.isSafeInteger(value) && context?.source &&
        /^\d+$/.test(context.source)
      ) {
        return BigInt(context.source);
      }
      return value;
    });
  } catch (err) {
    throw new InvalidArgumentError(
      `Cannot parse seccomp profile: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
  return parseProfile(data);
}
