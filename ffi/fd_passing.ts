/**
 * Passing file descriptors between processes over a unix socket (`SCM_RIGHTS`).
 *
 * A pre-spawned ("warm") container init is started before anyone knows which container it will
 * become: when it is claimed, the engine hands it the container's stdio and its config memfd as
 * real descriptors (the same open file descriptions, flags and offsets the engine holds), which
 * only `sendmsg`/`recvmsg` can do. The layouts of `struct msghdr`, `struct iovec` and
 * `struct cmsghdr` below are those of LP64 Linux (x86_64 and aarch64 alike).
 *
 * @module
 */
import { libc } from "./library.ts";
import { errno } from "./errno.ts";
import { SyscallError } from "./syscall_error.ts";

const symbols = {
  /** int socketpair(int domain, int type, int protocol, int sv[2]); socketpair(2) */
  socketpair: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  /** ssize_t sendmsg(int sockfd, const struct msghdr *msg, int flags); sendmsg(2) */
  sendmsg: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  /** ssize_t recvmsg(int sockfd, struct msghdr *msg, int flags); recvmsg(2) */
  recvmsg: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  /** int close(int fd); close(2) */
  close: { parameters: ["i32"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

function sym(): Deno.DynamicLibrary<typeof symbols>["symbols"] {
  return libc("fd-passing", symbols);
}

const AF_UNIX = 1;
const SOCK_SEQPACKET = 5;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SCM_RIGHTS = 1;
const MSG_NOSIGNAL = 0x4000;
const MSG_CMSG_CLOEXEC = 0x40000000;
const EINTR = 4;
const EMSGSIZE = 90;
const MSG_TRUNC = 0x20;
const MSG_CTRUNC = 0x8;

const MSGHDR_SIZE = 56;
const CMSG_HEADER = 16;

/** Loads the symbols now (a warm launch Worker pays the dlopen before it is needed). */
export function preloadFdPassing(): void {
  sym();
}

/**
 * A connected pair of unix SEQPACKET sockets, both ends close-on-exec. Message boundaries are
 * kept, and the peer's close reads as a 0-byte message.
 */
export function seqpacketPair(): [number, number] {
  const fds = new Int32Array(2);
  if (
    sym().socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, new Uint8Array(fds.buffer)) === -1
  ) {
    throw new SyscallError("socketpair", errno());
  }
  return [fds[0], fds[1]];
}

function ptr(buf: Uint8Array<ArrayBuffer>): bigint {
  return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buf)));
}

/** Builds a msghdr over one data buffer and a control buffer (kept alive by the caller). */
function msghdr(data: Uint8Array<ArrayBuffer>, control: Uint8Array<ArrayBuffer>): {
  hdr: Uint8Array<ArrayBuffer>;
  iov: Uint8Array<ArrayBuffer>;
} {
  const iov = new Uint8Array(16);
  const iv = new DataView(iov.buffer);
  iv.setBigUint64(0, ptr(data), true);
  iv.setBigUint64(8, BigInt(data.length), true);
  const hdr = new Uint8Array(MSGHDR_SIZE);
  const h = new DataView(hdr.buffer);
  // msg_name = NULL, msg_namelen = 0
  h.setBigUint64(16, ptr(iov), true); // msg_iov
  h.setBigUint64(24, 1n, true); // msg_iovlen
  h.setBigUint64(32, control.length ? ptr(control) : 0n, true); // msg_control
  h.setBigUint64(40, BigInt(control.length), true); // msg_controllen
  return { hdr, iov };
}

/**
 * Sends `data` (at least one byte) with `fds` attached as SCM_RIGHTS, in one message. The
 * receiver gets its own descriptors for the same open files; ours stay open.
 */
export function sendFds(sock: number, data: Uint8Array<ArrayBuffer>, fds: readonly number[]): void {
  if (data.length === 0) throw new RangeError("sendFds needs at least one data byte");
  const control = new Uint8Array(fds.length ? CMSG_HEADER + 4 * fds.length : 0);
  if (fds.length) {
    const c = new DataView(control.buffer);
    c.setBigUint64(0, BigInt(CMSG_HEADER + 4 * fds.length), true); // cmsg_len
    c.setInt32(8, SOL_SOCKET, true);
    c.setInt32(12, SCM_RIGHTS, true);
    fds.forEach((fd, i) => c.setInt32(CMSG_HEADER + 4 * i, fd, true));
  }
  const { hdr, iov } = msghdr(data, control);
  for (;;) {
    const n = Number(sym().sendmsg(sock, hdr, MSG_NOSIGNAL));
    if (n >= 0) break;
    const e = errno();
    if (e !== EINTR) throw new SyscallError("sendmsg", e, { path: `fd ${sock}` });
  }
  void iov; // kept alive until sendmsg returned
}

/**
 * Receives one message (blocking): its bytes and the descriptors attached to it (close-on-exec
 * in this process). `bytes` is 0 when the peer closed its end. A message longer than
 * `maxBytes` or carrying more than `maxFds` descriptors throws SyscallError (EMSGSIZE), with
 * whatever descriptors did arrive closed.
 */
export function recvFds(
  sock: number,
  maxBytes = 64,
  maxFds = 8,
): { bytes: number; data: Uint8Array; fds: number[] } {
  const data = new Uint8Array(maxBytes);
  // CMSG_SPACE: header + payload rounded up to 8 bytes.
  const control = new Uint8Array(CMSG_HEADER + Math.ceil((4 * maxFds) / 8) * 8);
  const { hdr, iov } = msghdr(data, control);
  let n: number;
  for (;;) {
    n = Number(sym().recvmsg(sock, hdr, MSG_CMSG_CLOEXEC));
    if (n >= 0) break;
    const e = errno();
    if (e !== EINTR) throw new SyscallError("recvmsg", e, { path: `fd ${sock}` });
  }
  void iov;
  const h = new DataView(hdr.buffer);
  const controlLen = Number(h.getBigUint64(40, true));
  const flags = h.getInt32(48, true);
  const fds: number[] = [];
  const c = new DataView(control.buffer);
  let off = 0;
  while (off + CMSG_HEADER <= controlLen) {
    const len = Number(c.getBigUint64(off, true));
    if (len < CMSG_HEADER) break;
    if (c.getInt32(off + 8, true) === SOL_SOCKET && c.getInt32(off + 12, true) === SCM_RIGHTS) {
      for (let p = off + CMSG_HEADER; p + 4 <= off + len; p += 4) fds.push(c.getInt32(p, true));
    }
    off += Math.ceil(len / 8) * 8;
  }
  // A cut message or cut descriptor list would be silently wrong: refuse it (and close what
  // did arrive, so nothing leaks).
  if (flags & (MSG_TRUNC | MSG_CTRUNC)) {
    for (const fd of fds) sym().close(fd);
    throw new SyscallError("recvmsg", EMSGSIZE, {
      path: `fd ${sock}: message larger than ${maxBytes} bytes or ${maxFds} descriptors`,
    });
  }
  return { bytes: n, data: data.subarray(0, n), fds };
}
