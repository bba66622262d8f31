/**
 * Exit codes of containers this process did not spawn (re-adopted after a daemon restart).
 *
 * Such a container is init's child: its exit status goes to init and is lost to us, so a
 * `docker stop` would end with "exit code unknown". Seizing it with ptrace just before we signal
 * it makes the kernel report its exit to us too (the reaper resumes it at every signal stop, so
 * it still receives the signal). The trace ends with the process; if the engine dies first, the
 * kernel detaches it and it runs on untouched.
 *
 * @module
 */
import { ptraceSeize } from "../../ffi/ptrace.ts";
import { type ExitStatus, reaper } from "./reaper.ts";

/**
 * Seizes `pid` and resolves with its exit status when it ends; undefined when it cannot be
 * seized (gone, already traced, not permitted). Call from the engine's main thread, the one
 * the shared reaper runs on.
 */
export function traceExit(pid: number): Promise<ExitStatus> | undefined {
  try {
    ptraceSeize(pid);
  } catch {
    return undefined;
  }
  return reaper().watch(pid, { traced: true });
}
