/**
 * fallocate(2) hole punching: frees a file's blocks in a range while its size and every offset
 * stay valid, so a process appending to it (O_APPEND) never notices.
 *
 * @module
 */
import { cstr } from "./cstring.ts";
import { errno } from "./errno.ts";
import { libc } from "./library.ts";
import { SyscallError } from "./syscall_error.ts";

const symbols = {
  /** int open(const char *path, int flags, mode_t mode); — open(2) */
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  /** int fallocate(int fd, int mode, off_t offset, off_t len); — fallocate(2) */
  fallocate: { parameters: ["i32", "i32", "i64", "i64"], result: "i32" },
  /** int close(int fd); — close(2) */
  close: { parameters: ["i32"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

const O_WRONLY = 0o1;
const O_NOFOLLOW: Record<string, number> = { x86_64: 0o400000, aarch64: 0o100000 };
const O_CLOEXEC = 0o2000000;
const FALLOC_FL_KEEP_SIZE = 0x01;
const FALLOC_FL_PUNCH_HOLE = 0x02;
const EINTR = 4;

/**
 * Punches a hole over `[offset, offset + length)` of the file at `path` (its size unchanged).
 * Returns false when the file system cannot punch holes (EOPNOTSUPP).
 */
export function punchHole(path: string, offset: number, length: number): boolean {
  if (length <= 0) return true;
  const l = libc("fallocate", symbols);
  const flags = O_WRONLY | O_CLOEXEC | (O_NOFOLLOW[Deno.build.arch] ?? 0);
  const fd = l.open(cstr(path), flags, 0);
  if (fd < 0) throw new SyscallError("open", errno(), { path });
  try {
    for (;;) {
      const rc = l.fallocate(
        fd,
        FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
        BigInt(offset),
        BigInt(length),
      );
      if (rc === 0) return true;
      const e = errno();
      if (e === EINTR) continue;
      if (e === 95) return false; // EOPNOTSUPP
      throw new SyscallError("fallocate", e, { path });
    }
  } finally {
    l.close(fd);
  }
}
