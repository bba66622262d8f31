import { errnoName, strerror } from "./errno.ts";

/** Options naming what a failed call acted on. */
export interface SyscallErrorOptions {
  /** The path (or object) the call acted on. */
  path?: string;
  /** A second path, e.g. the target of a mount or rename. */
  dest?: string;
  /** Overrides the default "Cannot <syscall>" action text. */
  action?: string;
}

/**
 * The one error every FFI wrapper throws: names the call, the path and the errno.
 *
 * Message shape: `Cannot mount "overlay" on "/x/merged": EPERM (Operation not permitted)`.
 */
export class SyscallError extends Error {
  /** The libc function or syscall that failed. */
  readonly syscall: string;
  /** The errno value. */
  readonly errno: number;
  /** The errno name, e.g. `ENOENT`. */
  readonly code: string;
  /** The path the call acted on, when there is one. */
  readonly path?: string;
  /** A second path, when there is one. */
  readonly dest?: string;

  /**
   * @param syscall The failed call, e.g. `mount`.
   * @param errno The errno read right after the call.
   * @param options What the call acted on, and an optional action text.
   */
  constructor(syscall: string, errno: number, options: SyscallErrorOptions = {}) {
    const code = errnoName(errno);
    let text: string;
    try {
      text = strerror(errno);
    } catch {
      text = `errno ${errno}`;
    }
    const action = options.action ?? `Cannot ${syscall}`;
    const where = options.path !== undefined
      ? ` "${options.path}"${options.dest !== undefined ? ` on "${options.dest}"` : ""}`
      : "";
    super(`${action}${where}: ${code} (${text})`);
    this.name = "SyscallError";
    this.syscall = syscall;
    this.errno = errno;
    this.code = code;
    this.path = options.path;
    this.dest = options.dest;
  }
}
