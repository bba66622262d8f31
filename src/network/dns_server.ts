/**
 * The embedded DNS server of a user-defined network. Docker listens on 127.0.0.11 inside each
 * container's namespace; here one UDP socket per network listens on the network's gateway address
 * on the host, and containers' resolv.conf names that address. It answers A queries for the
 * network's container names, short ids and `--network-alias`es, and forwards everything else to
 * the host's resolvers, relaying their answer unchanged.
 *
 * The records come from a lookup function (the manager reads the endpoint files), so every engine
 * process serving the same network answers alike: sockets bind with SO_REUSEADDR, and whichever
 * process the kernel hands a query to can answer it.
 *
 * @module
 */
import dgram from "node:dgram";

/** DNS record types used here. */
const TYPE_A = 1;
const CLASS_IN = 1;
const RCODE_SERVFAIL = 2;
const RCODE_NXDOMAIN = 3;
const RCODE_FORMERR = 1;

/** A parsed DNS question. */
export interface DnsQuestion {
  /** Lower-case name without the trailing dot. */
  name: string;
  /** QTYPE. */
  type: number;
  /** QCLASS. */
  class: number;
  /** Offset just past the question section. */
  end: number;
}

/** Parses the header and first question of a query; undefined when malformed. */
export function parseQuery(msg: Uint8Array): DnsQuestion | undefined {
  if (msg.length < 12) return undefined;
  const dv = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
  const flags = dv.getUint16(2);
  if (flags & 0x8000) return undefined; // a response, not a query
  if (dv.getUint16(4) < 1) return undefined;
  const labels: string[] = [];
  let off = 12;
  for (;;) {
    if (off >= msg.length) return undefined;
    const len = msg[off];
    if (len === 0) {
      off++;
      break;
    }
    if (len > 63 || off + 1 + len > msg.length) return undefined; // no compression in questions
    labels.push(new TextDecoder().decode(msg.subarray(off + 1, off + 1 + len)));
    off += 1 + len;
  }
  if (off + 4 > msg.length) return undefined;
  return {
    name: labels.join(".").toLowerCase(),
    type: dv.getUint16(off),
    class: dv.getUint16(off + 2),
    end: off + 4,
  };
}

/**
 * Builds a response to `query` (echoing its id, RD flag and question) with `rcode` and the
 * given IPv4 answers (TTL 600, as Docker's resolver).
 */
export function buildResponse(
  query: Uint8Array,
  q: DnsQuestion,
  rcode: number,
  answers: readonly string[] = [],
): Uint8Array {
  const out = new Uint8Array(q.end + answers.length * 16);
  out.set(query.subarray(0, q.end));
  const dv = new DataView(out.buffer);
  const rd = new DataView(query.buffer, query.byteOffset).getUint16(2) & 0x0100;
  // QR=1, AA=1, RD echoed, RA=1.
  dv.setUint16(2, 0x8000 | 0x0400 | rd | 0x0080 | (rcode & 0xf));
  dv.setUint16(4, 1);
  dv.setUint16(6, answers.length);
  dv.setUint16(8, 0);
  dv.setUint16(10, 0);
  let off = q.end;
  for (const a of answers) {
    dv.setUint16(off, 0xc00c); // pointer to the question's name
    dv.setUint16(off + 2, TYPE_A);
    dv.setUint16(off + 4, CLASS_IN);
    dv.setUint32(off + 6, 600);
    dv.setUint16(off + 10, 4);
    a.split(".").forEach((p, i) => out[off + 12 + i] = Number(p));
    off += 16;
  }
  return out;
}

/** Options of {@link DnsServer.start}. */
export interface DnsServerOptions {
  /** Address to listen on (the network's gateway). */
  address: string;
  /** UDP port; default 53. */
  port?: number;
  /** Addresses for a name in this network (lower case, no trailing dot); empty when unknown. */
  lookup(name: string): string[];
  /** Upstream resolvers (`ip` or `ip:port`); default none (unknown names get NXDOMAIN). */
  upstreams?: readonly string[];
  /** Milliseconds to wait for an upstream; default 2000. */
  upstreamTimeoutMs?: number;
}

/** A running embedded DNS server. */
export class DnsServer {
  readonly #socket: dgram.Socket;
  readonly #opts: DnsServerOptions;
  #closed = false;

  private constructor(socket: dgram.Socket, opts: DnsServerOptions) {
    this.#socket = socket;
    this.#opts = opts;
    socket.on("message", (msg: Uint8Array, rinfo: dgram.RemoteInfo) => {
      this.#answer(new Uint8Array(msg), rinfo).catch(() => {});
    });
  }

  /** Binds the socket and starts answering. */
  static start(opts: DnsServerOptions): Promise<DnsServer> {
    return new Promise((resolve, reject) => {
      const s = dgram.createSocket({ type: "udp4", reuseAddr: true });
      s.once("error", (err) => {
        s.close();
        reject(
          new Error(`Cannot start the DNS server on "${opts.address}:${opts.port ?? 53}"`, {
            cause: err,
          }),
        );
      });
      s.bind(opts.port ?? 53, opts.address, () => {
        s.removeAllListeners("error");
        s.on("error", () => {});
        resolve(new DnsServer(s, opts));
      });
    });
  }

  /** The bound port (useful with port 0 in tests). */
  get port(): number {
    return this.#socket.address().port;
  }

  async #answer(msg: Uint8Array, rinfo: dgram.RemoteInfo): Promise<void> {
    const q = parseQuery(msg);
    if (!q) {
      if (msg.length >= 12) {
        const resp = msg.slice(0, 12);
        const dv = new DataView(resp.buffer);
        dv.setUint16(2, 0x8000 | RCODE_FORMERR);
        dv.setUint16(4, 0);
        dv.setUint16(6, 0);
        dv.setUint16(8, 0);
        dv.setUint16(10, 0);
        this.#send(resp, rinfo);
      }
      return;
    }
    const local = q.class === CLASS_IN ? this.#opts.lookup(q.name) : [];
    if (local.length > 0) {
      // A known name: its A records; other types get an empty NOERROR answer (no IPv6 here),
      // so resolvers do not go on to ask upstream for a container's name.
      this.#send(buildResponse(msg, q, 0, q.type === TYPE_A ? local : []), rinfo);
      return;
    }
    const relayed = await this.#forward(msg);
    this.#send(
      relayed ??
        buildResponse(msg, q, this.#opts.upstreams?.length ? RCODE_SERVFAIL : RCODE_NXDOMAIN),
      rinfo,
    );
  }

  /** Asks each upstream in turn; resolves the first answer, or undefined. */
  async #forward(msg: Uint8Array): Promise<Uint8Array | undefined> {
    for (const up of this.#opts.upstreams ?? []) {
      const [host, port] = up.includes(":") ? up.split(":") : [up, "53"];
      const answer = await new Promise<Uint8Array | undefined>((resolve) => {
        const s = dgram.createSocket("udp4");
        const done = (v: Uint8Array | undefined): void => {
          clearTimeout(timer);
          try {
            s.close();
          } catch {
            // closed already
          }
          resolve(v);
        };
        const timer = setTimeout(() => done(undefined), this.#opts.upstreamTimeoutMs ?? 2000);
        s.on("error", () => done(undefined));
        s.on("message", (m: Uint8Array) => done(new Uint8Array(m)));
        s.send(msg, Number(port), host);
      });
      if (answer && answer.length >= 12 && answer[0] === msg[0] && answer[1] === msg[1]) {
        return answer;
      }
    }
    return undefined;
  }

  #send(data: Uint8Array, rinfo: dgram.RemoteInfo): void {
    if (this.#closed) return;
    this.#socket.send(data, rinfo.port, rinfo.address);
  }

  /** Stops answering and closes the socket. Idempotent. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    return new Promise((resolve) => this.#socket.close(() => resolve()));
  }
}
