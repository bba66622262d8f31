/**
 * A NETLINK_ROUTE socket that owns its fd: one request at a time, acks checked, dumps collected,
 * kernel errors turned into {@link NetlinkError}s that name the request.
 *
 * All calls are synchronous: rtnetlink answers a request before `send` returns (dumps are
 * produced during `recv`), so a blocking `recv` waits only for the kernel, never for the network.
 * A receive timeout still guards the thread against a kernel that never answers.
 *
 * @module
 */
import {
  netlinkClose,
  netlinkPortId,
  netlinkRecv,
  netlinkSend,
  netlinkSocket,
  setReceiveTimeout,
} from "../../ffi/netlink.ts";
import { SyscallError } from "../../ffi/syscall_error.ts";
import {
  decodeErrorAck,
  decodeMessages,
  encodeMessage,
  type Message,
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_REQUEST,
  NLMSG_DONE,
  NLMSG_ERROR,
  type Request,
} from "./netlink.ts";

/** What a request does, for error messages: `Cannot <action> "<target>"`. */
export interface RequestLabel {
  /** e.g. `create bridge`. */
  action: string;
  /** The object acted on, e.g. the link name. */
  target?: string;
}

/**
 * A kernel refusal of a netlink request. `errno`/`code` come from the ack; `kernelMessage` is the
 * extended-ack text when the kernel gave one.
 *
 * Message shape: `Cannot create bridge "docker-ts0": EEXIST (File exists)`.
 */
export class NetlinkError extends SyscallError {
  /** The extended ack's explanation, if any. */
  readonly kernelMessage?: string;

  /** Builds the error from an ack's errno, the request's label and the extended-ack text. */
  constructor(errno: number, label: RequestLabel, kernelMessage?: string) {
    super("netlink", errno, { action: `Cannot ${label.action}`, path: label.target });
    this.name = "NetlinkError";
    this.kernelMessage = kernelMessage;
    if (kernelMessage) this.message += `: ${kernelMessage}`;
  }
}

const RECV_TIMEOUT_MS = 5000;

/** An open rtnetlink socket. Close it when done (`close()` or `using`). */
export class RouteSocket {
  /** The socket's fd (shared by every thread of the process). */
  readonly fd: number;
  #seq = Math.floor(Math.random() * 0x7fffffff);
  #buf = new Uint8Array(65536);
  #closed = false;

  /** Wraps an fd returned by `netlinkSocket` (here or on a Worker in another namespace). */
  constructor(fd: number) {
    this.fd = fd;
    setReceiveTimeout(fd, RECV_TIMEOUT_MS);
  }

  /**
   * Opens a socket in the calling thread's network namespace. On the main thread that is the
   * host's; use `openRouteSocketIn` (netns.ts) for another namespace.
   */
  static open(): RouteSocket {
    return new RouteSocket(netlinkSocket());
  }

  /** The kernel-assigned port id (nl_pid). */
  get portId(): number {
    return netlinkPortId(this.fd);
  }

  /**
   * Sends a request with NLM_F_ACK and waits for the ack; returns any messages the kernel sent
   * first (e.g. an echo). Throws {@link NetlinkError} on a refusal.
   */
  request(req: Request, label: RequestLabel): Message[] {
    return this.#exchange(
      { ...req, flags: req.flags | NLM_F_REQUEST | NLM_F_ACK },
      label,
      false,
    );
  }

  /** Sends a dump request and collects every message up to NLMSG_DONE. */
  dump(req: Omit<Request, "flags">, label: RequestLabel): Message[] {
    return this.#exchange({ ...req, flags: NLM_F_REQUEST | NLM_F_DUMP }, label, true);
  }

  #exchange(req: Request, label: RequestLabel, dump: boolean): Message[] {
    if (this.#closed) throw new Error("Netlink socket is closed");
    const seq = this.#seq = (this.#seq + 1) >>> 0;
    netlinkSend(this.fd, encodeMessage(req, seq));
    const out: Message[] = [];
    for (;;) {
      const n = netlinkRecv(this.fd, this.#buf);
      // Copy: the receive buffer is reused by the next recv.
      for (const msg of decodeMessages(this.#buf.slice(0, n))) {
        if (msg.seq !== seq) continue; // a late answer to an earlier, abandoned request
        if (msg.type === NLMSG_ERROR) {
          const ack = decodeErrorAck(msg);
          if (ack.errno !== 0) throw new NetlinkError(ack.errno, label, ack.message);
          if (!dump) return out;
          continue;
        }
        if (msg.type === NLMSG_DONE) {
          // A dump may end with a negative errno in NLMSG_DONE's payload.
          const p = msg.payload;
          const err = p.length >= 4
            ? -new DataView(p.buffer, p.byteOffset, 4).getInt32(0, true)
            : 0;
          if (err > 0) throw new NetlinkError(err, label);
          return out;
        }
        out.push(msg);
      }
    }
  }

  /** Closes the socket; later calls throw. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    netlinkClose(this.fd);
  }

  /** For `using sock = RouteSocket.open()`. */
  [Symbol.dispose](): void {
    this.close();
  }
}
