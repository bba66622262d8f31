/**
 * seccomp(2): attaching a classic-BPF filter and asking which actions the kernel knows. glibc has
 * no wrapper, so these go through raw `syscall(2)` with the number from ffi/arch.ts.
 *
 * A filter attaches to the **calling thread** (and what it later execs or clones) unless
 * SECCOMP_FILTER_FLAG_TSYNC is given. The kernel requires no_new_privs or CAP_SYS_ADMIN in the
 * thread's effective set, else EACCES.
 *
 * @module
 */
import { libc } from "./library.ts";
import { errno } from "./errno.ts";
import { SyscallError } from "./syscall_error.ts";
import { syscallNumbers } from "./arch.ts";

/** seccomp(2) operation: attach a filter. */
export const SECCOMP_SET_MODE_FILTER = 1;
/** seccomp(2) operation: is an action (u32 at the pointer) supported? */
export const SECCOMP_GET_ACTION_AVAIL = 2;

/** Attach to every thread of the process (fails, returning a tid, if one cannot be synced). */
export const SECCOMP_FILTER_FLAG_TSYNC = 1;
/** Log every action except ALLOW. */
export const SECCOMP_FILTER_FLAG_LOG = 2;
/** Do not enable the speculative store bypass mitigation. */
export const SECCOMP_FILTER_FLAG_SPEC_ALLOW = 4;
/** With TSYNC: fail with ESRCH instead of returning a tid. */
export const SECCOMP_FILTER_FLAG_TSYNC_ESRCH = 16;
/** Notifications: wait killable after the supervisor received one. */
export const SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV = 32;

const symbols = {
  /** long syscall(SYS_seccomp, unsigned int op, unsigned int flags, void *args);  seccomp(2) */
  syscall_seccomp: { name: "syscall", parameters: ["i64", "u64", "u64", "buffer"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

function lib(): Deno.DynamicLibrary<typeof symbols>["symbols"] {
  return libc("seccomp", symbols);
}

/** Loads the symbols now (the init does it while it waits for its start gate). */
export function preloadSeccomp(): void {
  lib();
}

/**
 * seccomp(SECCOMP_SET_MODE_FILTER, flags, &sock_fprog) on the calling thread.
 *
 * `program` is `struct sock_filter[]` (8 bytes per instruction). Returns the syscall's result
 * (0; with TSYNC a positive tid means that thread could not be synchronised).
 *
 * @throws SyscallError (EACCES without no_new_privs/CAP_SYS_ADMIN, EINVAL for a rejected program)
 */
export function seccompSetModeFilter(program: Uint8Array<ArrayBuffer>, flags = 0): number {
  const count = program.length / 8;
  if (!Number.isInteger(count) || count < 1 || count > 0xffff) {
    throw new RangeError(`Seccomp program of ${program.length} bytes is not 1..65535 instructions`);
  }
  // struct sock_fprog { unsigned short len; struct sock_filter *filter; } — 16 bytes on LP64.
  const fprog = new Uint8Array(16);
  const view = new DataView(fprog.buffer);
  view.setUint16(0, count, true);
  view.setBigUint64(8, BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(program))), true);
  const r = Number(
    lib().syscall_seccomp(
      BigInt(syscallNumbers().seccomp),
      BigInt(SECCOMP_SET_MODE_FILTER),
      BigInt(flags),
      fprog,
    ),
  );
  if (r === -1) {
    throw new SyscallError("seccomp", errno(), { action: "Cannot load seccomp filter" });
  }
  // Keep `program` reachable until the kernel has copied it.
  void program.length;
  return r;
}

/** seccomp(SECCOMP_GET_ACTION_AVAIL): true when the kernel supports the SECCOMP_RET_* action. */
export function seccompActionAvailable(action: number): boolean {
  const arg = new Uint8Array(4);
  new DataView(arg.buffer).setUint32(0, action >>> 0, true);
  const r = Number(
    lib().syscall_seccomp(
      BigInt(syscallNumbers().seccomp),
      BigInt(SECCOMP_GET_ACTION_AVAIL),
      0n,
      arg,
    ),
  );
  return r === 0;
}
