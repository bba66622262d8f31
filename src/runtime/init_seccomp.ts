/**
 * The seccomp slot of the container's init (filled by the seccomp issue). The init calls
 * {@link applySeccomp} as its last step before execve — after credentials and no_new_privs, with
 * the spec's raw `linux.seccomp` — so the filter also covers execve itself. Keep this module's
 * imports tiny: it is loaded on every container start.
 *
 * @module
 */

/**
 * Installs the spec's seccomp filter on the calling thread (the init's main thread, which is the
 * one that execs). Returns whether a filter was installed. Not implemented yet: returns false,
 * leaving the container without a filter (like `--security-opt seccomp=unconfined`).
 */
export function applySeccomp(profile: unknown): boolean {
  void profile;
  return false;
}
