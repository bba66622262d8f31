/**
 * Pseudo-terminals and termios: posix_openpt, grantpt, unlockpt, ptsname_r, window-size ioctls,
 * tcgetattr/tcsetattr/cfmakeraw.
 *
 * @module
 */
import { libc } from "./library.ts";
import { errno } from "./errno.ts";
import { SyscallError } from "./syscall_error.ts";
import { close, O_CLOEXEC, O_NOCTTY, O_RDWR } from "./io.ts";
import { openat2, RESOLVE_IN_ROOT } from "./mount.ts";

const ptySymbols = {
  /** int posix_openpt(int flags); posix_openpt(3) */
  posix_openpt: { parameters: ["i32"], result: "i32" },
  /** int grantpt(int fd); grantpt(3) */
  grantpt: { parameters: ["i32"], result: "i32" },
  /** int unlockpt(int fd); unlockpt(3) */
  unlockpt: { parameters: ["i32"], result: "i32" },
  /** int ptsname_r(int fd, char *buf, size_t buflen); returns 0 or an errno value */
  ptsname_r: { parameters: ["i32", "buffer", "usize"], result: "i32" },
  /** int ioctl(int fd, unsigned long request, void *argp); ioctl(2), pointer form */
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  /** int ioctl(int fd, unsigned long request, int arg); ioctl(2), integer form */
  ioctl_int: { name: "ioctl", parameters: ["i32", "u64", "i64"], result: "i32" },
  /** int tcgetattr(int fd, struct termios *t); termios(3) */
  tcgetattr: { parameters: ["i32", "buffer"], result: "i32" },
  /** int tcsetattr(int fd, int optional_actions, const struct termios *t); termios(3) */
  tcsetattr: { parameters: ["i32", "i32", "buffer"], result: "i32" },
  /** void cfmakeraw(struct termios *t); termios(3) */
  cfmakeraw: { parameters: ["buffer"], result: "void" },
} as const satisfies Deno.ForeignLibraryInterface;

function sym(): Deno.DynamicLibrary<typeof ptySymbols>["symbols"] {
  return libc("pty", ptySymbols);
}

/** ioctl requests (asm-generic values, shared by x86_64 and aarch64). */
export const TIOCGWINSZ = 0x5413;
/** Set the window size. */
export const TIOCSWINSZ = 0x5414;
/** Make the terminal the caller's controlling terminal. */
export const TIOCSCTTY = 0x540e;
/** Get the pty number of a master (`_IOR('T', 0x30, unsigned int)`). */
export const TIOCGPTN = 0x80045430;
/** Lock (non-zero) or unlock (0) the slave of a master (`_IOW('T', 0x31, int)`). */
export const TIOCSPTLCK = 0x40045431;
/** Open the slave of a master by fd, without a path lookup (`_IO('T', 0x41)`, Linux 4.13+). */
export const TIOCGPTPEER = 0x5441;
/** tcsetattr: apply now. */
export const TCSANOW = 0;
/** tcsetattr: apply after output drains, discarding pending input. */
export const TCSAFLUSH = 2;

/** sizeof(struct termios) in glibc is 60; keep headroom. */
const TERMIOS_SIZE = 64;

/** A terminal window size in character cells. */
export interface WinSize {
  /** Rows (lines). */
  rows: number;
  /** Columns. */
  cols: number;
}

/** Opens a new pty master (`/dev/ptmx`), O_RDWR | O_NOCTTY | O_CLOEXEC, granted and unlocked. */
export function openPtyMaster(): number {
  const fd = sym().posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (fd === -1) throw new SyscallError("posix_openpt", errno(), { path: "/dev/ptmx" });
  try {
    if (sym().grantpt(fd) === -1) throw new SyscallError("grantpt", errno());
    if (sym().unlockpt(fd) === -1) throw new SyscallError("unlockpt", errno());
  } catch (err) {
    close(fd);
    throw err;
  }
  return fd;
}

/**
 * Opens a new pty master from the devpts instance under a root directory (e.g. a container's
 * `/proc/<pid>/root`): `ptmx` (default `dev/pts/ptmx`) is resolved with openat2 RESOLVE_IN_ROOT,
 * so a symlink planted by the container cannot make the engine open a host file. The master is
 * O_RDWR | O_NOCTTY | O_CLOEXEC and unlocked; its slave is `/dev/pts/<ptyNumber(fd)>` in that root.
 * glibc's grantpt/ptsname are not used: they look the slave up in the caller's own /dev/pts.
 */
export function openPtyMasterIn(rootFd: number, ptmx = "dev/pts/ptmx"): number {
  const fd = openat2(rootFd, ptmx, O_RDWR | O_NOCTTY | O_CLOEXEC, RESOLVE_IN_ROOT);
  try {
    ptyNumber(fd); // ENOTTY here: the path is not a ptmx
    if (sym().ioctl(fd, BigInt(TIOCSPTLCK), new Uint8Array(4)) === -1) {
      throw new SyscallError("ioctl", errno(), { action: "Cannot unlock the pty", path: ptmx });
    }
  } catch (err) {
    close(fd);
    throw err;
  }
  return fd;
}

/** The number N of a pty master's slave (`/dev/pts/N` in the master's devpts instance). */
export function ptyNumber(masterFd: number): number {
  const n = new Uint32Array(1);
  if (sym().ioctl(masterFd, BigInt(TIOCGPTN), new Uint8Array(n.buffer)) === -1) {
    throw new SyscallError("ioctl", errno(), {
      action: "Cannot get the pty number of",
      path: `fd ${masterFd}`,
    });
  }
  return n[0];
}

/** Opens the slave of a pty master by fd (TIOCGPTPEER), O_RDWR | O_NOCTTY | O_CLOEXEC. */
export function openPtyPeer(masterFd: number): number {
  const fd = sym().ioctl_int(masterFd, BigInt(TIOCGPTPEER), BigInt(O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (fd === -1) {
    throw new SyscallError("ioctl", errno(), {
      action: "Cannot open the pty slave of",
      path: `fd ${masterFd}`,
    });
  }
  return fd;
}

/** The slave device path of a pty master, e.g. `/dev/pts/3`. */
export function ptsname(masterFd: number): string {
  const buf = new Uint8Array(128);
  const r = sym().ptsname_r(masterFd, buf, BigInt(buf.byteLength));
  if (r !== 0) throw new SyscallError("ptsname_r", r, { path: `fd ${masterFd}` });
  const end = buf.indexOf(0);
  return new TextDecoder().decode(buf.subarray(0, end < 0 ? buf.length : end));
}

/** Sets the window size of a terminal (master or slave). */
export function setWinSize(fd: number, size: WinSize): void {
  const ws = new Uint16Array([size.rows, size.cols, 0, 0]);
  if (sym().ioctl(fd, BigInt(TIOCSWINSZ), new Uint8Array(ws.buffer)) === -1) {
    throw new SyscallError("ioctl", errno(), {
      action: "Cannot set the terminal window size",
      path: `fd ${fd}`,
    });
  }
}

/** Reads the window size of a terminal. */
export function getWinSize(fd: number): WinSize {
  const ws = new Uint16Array(4);
  if (sym().ioctl(fd, BigInt(TIOCGWINSZ), new Uint8Array(ws.buffer)) === -1) {
    throw new SyscallError("ioctl", errno(), {
      action: "Cannot get the terminal window size",
      path: `fd ${fd}`,
    });
  }
  return { rows: ws[0], cols: ws[1] };
}

/** Makes `fd` the calling process's controlling terminal (TIOCSCTTY). */
export function setControllingTerminal(fd: number, steal = false): void {
  if (sym().ioctl_int(fd, BigInt(TIOCSCTTY), steal ? 1n : 0n) === -1) {
    throw new SyscallError("ioctl", errno(), {
      action: "Cannot set the controlling terminal",
      path: `fd ${fd}`,
    });
  }
}

/** An opaque `struct termios` snapshot. */
export type Termios = Uint8Array<ArrayBuffer>;

/** tcgetattr(3): the terminal's current attributes. Throws ENOTTY for a non-terminal. */
export function tcgetattr(fd: number): Termios {
  const t = new Uint8Array(TERMIOS_SIZE);
  if (sym().tcgetattr(fd, t) === -1) {
    throw new SyscallError("tcgetattr", errno(), { path: `fd ${fd}` });
  }
  return t;
}

/** tcsetattr(3). */
export function tcsetattr(fd: number, termios: Termios, when = TCSANOW): void {
  if (sym().tcsetattr(fd, when, termios) === -1) {
    throw new SyscallError("tcsetattr", errno(), { path: `fd ${fd}` });
  }
}

/** cfmakeraw(3) applied to a copy of `termios`. */
export function makeRaw(termios: Termios): Termios {
  const t = termios.slice();
  sym().cfmakeraw(t);
  return t;
}
