/**
 * errno access. Must be read right after a synchronous FFI call on the same thread:
 * `nonblocking: true` calls run on pool threads and lose it.
 *
 * @module
 */
import { readErrno, strerrorPointer } from "./library.ts";

/** The calling thread's errno (see `readErrno` in library.ts). */
export function errno(): number {
  return readErrno();
}

/** errno names on Linux (asm-generic numbering, shared by x86_64 and aarch64). */
export const ERRNO_NAMES: Readonly<Record<number, string>> = {
  1: "EPERM",
  2: "ENOENT",
  3: "ESRCH",
  4: "EINTR",
  5: "EIO",
  6: "ENXIO",
  7: "E2BIG",
  8: "ENOEXEC",
  9: "EBADF",
  10: "ECHILD",
  11: "EAGAIN",
  12: "ENOMEM",
  13: "EACCES",
  14: "EFAULT",
  15: "ENOTBLK",
  16: "EBUSY",
  17: "EEXIST",
  18: "EXDEV",
  19: "ENODEV",
  20: "ENOTDIR",
  21: "EISDIR",
  22: "EINVAL",
  23: "ENFILE",
  24: "EMFILE",
  25: "ENOTTY",
  26: "ETXTBSY",
  27: "EFBIG",
  28: "ENOSPC",
  29: "ESPIPE",
  30: "EROFS",
  31: "EMLINK",
  32: "EPIPE",
  33: "EDOM",
  34: "ERANGE",
  35: "EDEADLK",
  36: "ENAMETOOLONG",
  37: "ENOLCK",
  38: "ENOSYS",
  39: "ENOTEMPTY",
  40: "ELOOP",
  61: "ENODATA",
  75: "EOVERFLOW",
  88: "ENOTSOCK",
  90: "EMSGSIZE",
  95: "EOPNOTSUPP",
  97: "EAFNOSUPPORT",
  98: "EADDRINUSE",
  99: "EADDRNOTAVAIL",
  100: "ENETDOWN",
  101: "ENETUNREACH",
  104: "ECONNRESET",
  110: "ETIMEDOUT",
  111: "ECONNREFUSED",
  113: "EHOSTUNREACH",
  122: "EDQUOT",
};

/** Name of an errno value, e.g. `EPERM`. */
export function errnoName(value: number): string {
  return ERRNO_NAMES[value] ?? `E${value}`;
}

/** Inverse of {@link errnoName}. */
export function errnoValue(name: string): number | undefined {
  for (const [k, v] of Object.entries(ERRNO_NAMES)) if (v === name) return Number(k);
  return undefined;
}

/** strerror(3) text for an errno value. */
export function strerror(value: number): string {
  const p = strerrorPointer(value);
  return p === null ? `errno ${value}` : new Deno.UnsafePointerView(p).getCString();
}
