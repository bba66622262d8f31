/**
 * The seccomp step of the container's init. The kernel accepts a filter only with no_new_privs
 * set or CAP_SYS_ADMIN effective; Docker sets no_new_privs only for `no-new-privileges`, so the
 * init loads the filter before dropping capabilities in that case (as runc does) and last before
 * execve otherwise. Either way the filter is in place before execve, so it covers the user's
 * program from its first instruction. Kept tiny: loaded on every container start.
 *
 * @module
 */
import { loadSeccompFromSpec } from "./seccomp_load.ts";

/**
 * Installs the spec's seccomp filter on the calling thread (the init's main thread, the one
 * that execs). Returns whether a filter was installed.
 */
export function applySeccomp(seccomp: unknown): boolean {
  if (seccomp === undefined || seccomp === null) return false;
  loadSeccompFromSpec(seccomp);
  return true;
}
