/**
 * Netlink sockets: socket(AF_NETLINK, SOCK_RAW|SOCK_CLOEXEC, NETLINK_ROUTE), bind, send, recv,
 * setsockopt, close. Message building and parsing live in src/network/netlink.ts.
 *
 * A netlink socket belongs to the network namespace of the thread that created it, for its whole
 * life, whichever thread uses it later. So a socket for a container's namespace is created on a
 * single-use Worker that joined that namespace (src/network/netns_worker.ts); the fd is shared by
 * every thread of the process and stays usable after the Worker ends.
 *
 * @module
 */
import { libc } from "./library.ts";
import { errno } from "./errno.ts";
import { SyscallError } from "./syscall_error.ts";

/** Address family of netlink sockets. */
export const AF_NETLINK = 16;
/** Raw datagrams: the socket type netlink uses. */
export const SOCK_RAW = 3;
/** Close the socket on exec. */
export const SOCK_CLOEXEC = 0o2000000;
/** The routing family: links, addresses, routes. */
export const NETLINK_ROUTE = 0;
/** setsockopt level of socket options. */
export const SOL_SOCKET = 1;
/** setsockopt level of netlink options. */
export const SOL_NETLINK = 270;
/** Send buffer size. */
export const SO_SNDBUF = 7;
/** Receive buffer size. */
export const SO_RCVBUF = 8;
/** Receive timeout (struct timeval). */
export const SO_RCVTIMEO = 20;
/** Acks carry the kernel's error text (NLMSGERR_ATTR_MSG). */
export const NETLINK_EXT_ACK = 11;
/** Error acks omit the echoed request payload. */
export const NETLINK_CAP_ACK = 10;
/** recv(2): report the real datagram length even when it did not fit. */
export const MSG_TRUNC = 0x20;

const EINTR = 4;

const symbols = {
  /** int socket(int domain, int type, int protocol);  socket(2) */
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  /** int bind(int fd, const struct sockaddr *addr, socklen_t len);  bind(2) */
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  /** ssize_t send(int fd, const void *buf, size_t len, int flags);  send(2) */
  send: { parameters: ["i32", "buffer", "usize", "i32"], result: "i32" },
  /** ssize_t recv(int fd, void *buf, size_t len, int flags);  recv(2) */
  recv: { parameters: ["i32", "buffer", "usize", "i32"], result: "i32" },
  /** int setsockopt(int fd, int level, int name, const void *val, socklen_t len);  setsockopt(2) */
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  /** int getsockname(int fd, struct sockaddr *addr, socklen_t *len);  getsockname(2) */
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  /** int close(int fd);  close(2) */
  close: { parameters: ["i32"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

function lib(): Deno.DynamicLibrary<typeof symbols>["symbols"] {
  return libc("netlink", symbols);
}

/**
 * Opens and binds a NETLINK_ROUTE socket in the calling thread's network namespace, with extended
 * acks on (the kernel then explains EINVAL and friends in text). Returns the fd.
 */
export function netlinkSocket(protocol: number = NETLINK_ROUTE): number {
  const fd = lib().socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
  if (fd === -1) {
    throw new SyscallError("socket", errno(), { action: "Cannot open netlink socket" });
  }
  try {
    // struct sockaddr_nl { sa_family_t nl_family; unsigned short nl_pad; u32 nl_pid; u32 nl_groups; }
    // nl_pid 0: the kernel picks a unique port id.
    const addr = new Uint8Array(12);
    new DataView(addr.buffer).setUint16(0, AF_NETLINK, true);
    if (lib().bind(fd, addr, 12) === -1) {
      throw new SyscallError("bind", errno(), { action: "Cannot bind netlink socket" });
    }
    // Both are best effort: old kernels lack them and the codec copes without.
    setIntOption(fd, SOL_NETLINK, NETLINK_EXT_ACK, 1, false);
    setIntOption(fd, SOL_NETLINK, NETLINK_CAP_ACK, 1, false);
    return fd;
  } catch (err) {
    lib().close(fd);
    throw err;
  }
}

/** setsockopt(2) with an int value; throws unless `required` is false. */
export function setIntOption(
  fd: number,
  level: number,
  name: number,
  value: number,
  required = true,
): boolean {
  const v = new Int32Array([value]);
  if (lib().setsockopt(fd, level, name, new Uint8Array(v.buffer), 4) === -1) {
    if (!required) return false;
    throw new SyscallError("setsockopt", errno(), { path: `fd ${fd} option ${level}/${name}` });
  }
  return true;
}

/** Sets SO_RCVTIMEO so a recv never blocks the thread longer than `ms`. */
export function setReceiveTimeout(fd: number, ms: number): void {
  // struct timeval { time_t tv_sec; suseconds_t tv_usec; } — two 64-bit longs on LP64.
  const tv = new BigInt64Array([BigInt(Math.floor(ms / 1000)), BigInt((ms % 1000) * 1000)]);
  if (lib().setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, new Uint8Array(tv.buffer), 16) === -1) {
    throw new SyscallError("setsockopt", errno(), { path: `fd ${fd} SO_RCVTIMEO` });
  }
}

/** The port id the kernel assigned to the socket (getsockname's nl_pid). */
export function netlinkPortId(fd: number): number {
  const addr = new Uint8Array(12);
  const len = new Uint32Array([12]);
  if (lib().getsockname(fd, addr, new Uint8Array(len.buffer)) === -1) {
    throw new SyscallError("getsockname", errno(), { path: `fd ${fd}` });
  }
  return new DataView(addr.buffer).getUint32(4, true);
}

/** send(2) of one whole datagram, retrying EINTR. */
export function netlinkSend(fd: number, msg: Uint8Array): void {
  for (;;) {
    const n = Number(lib().send(fd, msg, BigInt(msg.byteLength), 0));
    if (n === msg.byteLength) return;
    if (n >= 0) throw new Error(`Short netlink send: ${n} of ${msg.byteLength} bytes`);
    const e = errno();
    if (e === EINTR) continue;
    throw new SyscallError("send", e, { action: "Cannot send netlink request" });
  }
}

/**
 * recv(2) of one datagram into `buf`, retrying EINTR. Returns the datagram's length; throws when
 * the datagram was longer than `buf` (the rest is lost, so the caller must size `buf` right).
 */
export function netlinkRecv(fd: number, buf: Uint8Array): number {
  for (;;) {
    const n = Number(lib().recv(fd, buf, BigInt(buf.byteLength), MSG_TRUNC));
    if (n >= 0) {
      if (n > buf.byteLength) {
        throw new Error(`Netlink reply of ${n} bytes overflowed a ${buf.byteLength}-byte buffer`);
      }
      return n;
    }
    const e = errno();
    if (e === EINTR) continue;
    throw new SyscallError("recv", e, { action: "Cannot receive netlink reply" });
  }
}

/** close(2) of a netlink socket. */
export function netlinkClose(fd: number): void {
  if (lib().close(fd) === -1) {
    const e = errno();
    if (e !== EINTR) throw new SyscallError("close", e, { path: `fd ${fd}` });
  }
}
