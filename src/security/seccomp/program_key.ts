/**
 * The key under the spec's `linux.seccomp` that carries the compiled program (base64 of
 * `struct sock_filter[]`). A file of its own so the container's init can read it without
 * importing the compiler (and zod).
 *
 * @module
 */

/** Key under `linux.seccomp` carrying the compiled program. */
export const SECCOMP_PROGRAM_KEY = "dockerTsProgram";
