/**
 * Seccomp: Docker's profile format, the default profile, and a compiler to classic BPF.
 *
 * ```ts
 * import { compileProfile, defaultProfile } from "./mod.ts";
 * const program = compileProfile(defaultProfile(), { capabilities: ["CAP_CHOWN"] });
 * ```
 *
 * Loading happens in the container's init (`src/runtime/seccomp_load.ts`).
 *
 * @module
 */
export {
  actionValue,
  type CompiledFilter,
  type CompileOptions,
  compileProfile,
  compileProfileDetailed,
} from "./compiler.ts";
export { CLONE_NAMESPACE_FLAGS, defaultProfile } from "./default_profile.ts";
export {
  parseProfile,
  parseProfileJson,
  SECCOMP_ACTIONS,
  SECCOMP_ARCHES,
  SECCOMP_FLAGS,
  SECCOMP_OPERATORS,
  type SeccompActionName,
  type SeccompArchName,
  type SeccompArg,
  type SeccompArgJson,
  type SeccompOperator,
  type SeccompProfile,
  type SeccompProfileJson,
  type SeccompRule,
  type SeccompRuleFilter,
  type SeccompRuleFilterJson,
  type SeccompSyscallJson,
  type U64Json,
} from "./profile.ts";
export {
  type OciSeccomp,
  type OciSeccompSyscall,
  type ResolvedProfile,
  type ResolvedRule,
  resolveProfile,
  type SeccompTargetOptions,
  toOciSeccomp,
} from "./resolve.ts";
export {
  AUDIT_ARCH_AARCH64,
  AUDIT_ARCH_I386,
  AUDIT_ARCH_X86_64,
  type NativeArch,
  X32_SYSCALL_BIT,
} from "./arch.ts";
export { SECCOMP_RET } from "./bpf.ts";
export {
  type ContainerSeccompOptions,
  SECCOMP_PROGRAM_KEY,
  seccompForContainer,
  type SeccompInfo,
  seccompInfo,
  type SpecSeccomp,
} from "./for_container.ts";
