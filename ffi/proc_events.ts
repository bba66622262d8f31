/**
 * The kernel's process events connector (NETLINK_CONNECTOR, CN_IDX_PROC): a root listener hears
 * of every process exit on the host, with its wait status, whoever the parent is.
 *
 * A container re-adopted after a daemon restart is init's child, so waitpid cannot tell the
 * daemon how it ended; its exit event can. Only exits are decoded here. The socket is
 * nonblocking: wait for readability (the runtime's I/O loop), then drain with
 * {@link readProcExits}. Needs CONFIG_PROC_EVENTS and CAP_NET_ADMIN.
 *
 * Layouts (linux/netlink.h, linux/connector.h, linux/cn_proc.h): nlmsghdr (16 bytes), cn_msg
 * (20 bytes: idx, val, seq, ack, len u16, flags u16), then the payload: for a subscription the
 * u32 `PROC_CN_MCAST_LISTEN`, for an event `struct proc_event` (what u32, cpu u32, timestamp u64,
 * then for an exit: pid, tgid, exit_code, exit_signal, parent pid, parent tgid, all u32).
 *
 * @module
 */
import { libc } from "./library.ts";
import { errno } from "./errno.ts";
import { SyscallError } from "./syscall_error.ts";

const symbols = {
  /** int socket(int domain, int type, int protocol);  socket(2) */
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  /** int bind(int fd, const struct sockaddr *addr, socklen_t len);  bind(2) */
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  /** ssize_t send(int fd, const void *buf, size_t len, int flags);  send(2) */
  send: { parameters: ["i32", "buffer", "usize", "i32"], result: "i32" },
  /** ssize_t recv(int fd, void *buf, size_t len, int flags);  recv(2) */
  recv: { parameters: ["i32", "buffer", "usize", "i32"], result: "i32" },
  /** int close(int fd);  close(2) */
  close: { parameters: ["i32"], result: "i32" },
  /** int setsockopt(int fd, int level, int name, const void *val, socklen_t len);  setsockopt(2) */
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

function lib(): Deno.DynamicLibrary<typeof symbols>["symbols"] {
  return libc("proc-events", symbols);
}

const AF_NETLINK = 16;
const SOCK_DGRAM = 2;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const NETLINK_CONNECTOR = 11;
const CN_IDX_PROC = 1;
const CN_VAL_PROC = 1;
const NLMSG_DONE = 3;
const PROC_CN_MCAST_LISTEN = 1;
const PROC_EVENT_EXIT = 0x80000000;
const SOL_SOCKET = 1;
const SO_RCVBUF = 8;
const SO_RCVBUFFORCE = 33;
/**
 * Room for a burst of events (each datagram costs ~1 KiB of socket memory): the connector
 * reports every process on the host, and a lost exit is an exit code lost for good.
 */
const RCVBUF_BYTES = 4 * 1024 * 1024;
const EINTR = 4;
const EAGAIN = 11;
const ENOBUFS = 105;

const NLMSG_HDR = 16;
const CN_MSG_HDR = 20;

/** One process (or thread) exit. */
export interface ProcExit {
  /** The thread's id. */
  pid: number;
  /** Its thread group (process) id: `pid === tgid` for the process's main thread. */
  tgid: number;
  /** The wait status word (decode with ffi/wait.ts `decodeWaitStatus`). */
  status: number;
}

/** Whether the running kernel's version is at least `major.minor`. */
function kernelAtLeast(major: number, minor: number): boolean {
  const m = /^(\d+)\.(\d+)/.exec(Deno.osRelease());
  if (!m) return false;
  const [a, b] = [Number(m[1]), Number(m[2])];
  return a > major || (a === major && b >= minor);
}

/**
 * Opens a nonblocking connector socket subscribed to process events. Throws SyscallError when
 * the kernel lacks the connector (EPROTONOSUPPORT) or the caller is not privileged (EPERM).
 */
export function openProcEvents(): number {
  const fd = lib().socket(AF_NETLINK, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_CONNECTOR);
  if (fd === -1) {
    throw new SyscallError("socket", errno(), { action: "Cannot open the process events socket" });
  }
  try {
    // struct sockaddr_nl { u16 family; u16 pad; u32 pid (0: kernel assigns); u32 groups; }
    const addr = new Uint8Array(12);
    const a = new DataView(addr.buffer);
    a.setUint16(0, AF_NETLINK, true);
    a.setUint32(8, CN_IDX_PROC, true);
    if (lib().bind(fd, addr, 12) === -1) {
      throw new SyscallError("bind", errno(), { action: "Cannot bind the process events socket" });
    }
    // A bigger receive buffer (root may exceed rmem_max); best effort.
    const size = new Uint8Array(new Int32Array([RCVBUF_BYTES]).buffer);
    if (lib().setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, size, 4) === -1) {
      lib().setsockopt(fd, SOL_SOCKET, SO_RCVBUF, size, 4);
    }
    // Linux ≥ 6.6 takes struct proc_input { op, event_type }: exits only, a fraction of the
    // traffic. Older kernels ignore a subscription that is not exactly the 4-byte op.
    const filtered = kernelAtLeast(6, 6);
    const payload = filtered ? 8 : 4;
    const msg = new Uint8Array(NLMSG_HDR + CN_MSG_HDR + payload);
    const m = new DataView(msg.buffer);
    m.setUint32(0, msg.length, true); // nlmsg_len
    m.setUint16(4, NLMSG_DONE, true); // nlmsg_type
    m.setUint32(NLMSG_HDR + 0, CN_IDX_PROC, true); // cn_msg.id.idx
    m.setUint32(NLMSG_HDR + 4, CN_VAL_PROC, true); // cn_msg.id.val
    m.setUint16(NLMSG_HDR + 16, payload, true); // cn_msg.len
    m.setUint32(NLMSG_HDR + CN_MSG_HDR, PROC_CN_MCAST_LISTEN, true);
    if (filtered) m.setUint32(NLMSG_HDR + CN_MSG_HDR + 4, PROC_EVENT_EXIT, true);
    for (;;) {
      const n = Number(lib().send(fd, msg, BigInt(msg.length), 0));
      if (n === msg.length) break;
      const e = errno();
      if (n === -1 && e === EINTR) continue;
      throw new SyscallError("send", e, { action: "Cannot subscribe to process events" });
    }
    return fd;
  } catch (err) {
    lib().close(fd);
    throw err;
  }
}

/**
 * Reads every queued datagram and returns the exits among their events; an empty list when
 * nothing was queued. `overflowed` is true when the kernel dropped events (ENOBUFS): the caller
 * must then find out by other means what ended meanwhile.
 */
export function readProcExits(fd: number, buf: Uint8Array<ArrayBuffer>): {
  exits: ProcExit[];
  overflowed: boolean;
} {
  const exits: ProcExit[] = [];
  let overflowed = false;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  for (;;) {
    const n = Number(lib().recv(fd, buf, BigInt(buf.byteLength), 0));
    if (n === -1) {
      const e = errno();
      if (e === EINTR) continue;
      if (e === EAGAIN) break;
      if (e === ENOBUFS) {
        overflowed = true;
        continue;
      }
      throw new SyscallError("recv", e, { action: "Cannot read process events" });
    }
    // One datagram may hold several netlink messages.
    let off = 0;
    while (off + NLMSG_HDR <= n) {
      const len = view.getUint32(off, true);
      if (len < NLMSG_HDR || off + len > n) break;
      const ev = off + NLMSG_HDR + CN_MSG_HDR;
      if (ev + 16 + 12 <= off + len && view.getUint32(ev, true) === PROC_EVENT_EXIT) {
        exits.push({
          pid: view.getUint32(ev + 16, true),
          tgid: view.getUint32(ev + 20, true),
          status: view.getUint32(ev + 24, true),
        });
      }
      off += (len + 3) & ~3;
    }
  }
  return { exits, overflowed };
}

/** Closes the socket (the subscription ends with it). */
export function closeProcEvents(fd: number): void {
  lib().close(fd);
}
