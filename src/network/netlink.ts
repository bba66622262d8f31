/**
 * rtnetlink message codec: nlmsghdr, ifinfomsg, ifaddrmsg, rtmsg and (nested) rtattrs, in host
 * byte order (netlink is native-endian; every architecture docker-ts runs on is little-endian).
 * Pure data in, bytes out — no FFI here, so it is unit-tested against known byte layouts.
 *
 * @module
 */

// --- nlmsghdr ---------------------------------------------------------------------------------
/** Size of struct nlmsghdr. */
export const NLMSG_HDRLEN = 16;
/** Error or ack message type. */
export const NLMSG_ERROR = 2;
/** End of a multipart dump. */
export const NLMSG_DONE = 3;
/** A request (every message we send). */
export const NLM_F_REQUEST = 0x1;
/** Part of a multipart reply. */
export const NLM_F_MULTI = 0x2;
/** Ask for an ack (an NLMSG_ERROR with error 0) on success. */
export const NLM_F_ACK = 0x4;
/** Dump everything (NLM_F_ROOT | NLM_F_MATCH). */
export const NLM_F_DUMP = 0x300;
/** Replace an existing object. */
export const NLM_F_REPLACE = 0x100;
/** Fail with EEXIST if the object exists. */
export const NLM_F_EXCL = 0x200;
/** Create the object if it does not exist. */
export const NLM_F_CREATE = 0x400;
/** In an error ack: TLVs (extended ack) follow the echoed header. */
export const NLM_F_ACK_TLVS = 0x200;
/** In an error ack: the echoed request was cut to its header. */
export const NLM_F_CAPPED = 0x100;
/** Extended ack TLV: the kernel's error text. */
export const NLMSGERR_ATTR_MSG = 1;

// --- rtnetlink message types ----------------------------------------------------------------
/** Create or change a link. */
export const RTM_NEWLINK = 16;
/** Delete a link. */
export const RTM_DELLINK = 17;
/** Get or dump links. */
export const RTM_GETLINK = 18;
/** Change a link (no create). */
export const RTM_SETLINK = 19;
/** Add an address. */
export const RTM_NEWADDR = 20;
/** Delete an address. */
export const RTM_DELADDR = 21;
/** Get or dump addresses. */
export const RTM_GETADDR = 22;
/** Add a route. */
export const RTM_NEWROUTE = 24;
/** Delete a route. */
export const RTM_DELROUTE = 25;
/** Get or dump routes. */
export const RTM_GETROUTE = 26;

// --- families, flags ----------------------------------------------------------------------------
/** Any family. */
export const AF_UNSPEC = 0;
/** IPv4. */
export const AF_INET = 2;
/** Interface is administratively up. */
export const IFF_UP = 0x1;
/** Interface is a loopback. */
export const IFF_LOOPBACK = 0x8;
/** Driver signals carrier (operationally up). */
export const IFF_LOWER_UP = 0x10000;

// --- link attributes ----------------------------------------------------------------------------
/** Link-layer (MAC) address. */
export const IFLA_ADDRESS = 1;
/** Link-layer broadcast address. */
export const IFLA_BROADCAST = 2;
/** Interface name. */
export const IFLA_IFNAME = 3;
/** MTU. */
export const IFLA_MTU = 4;
/** Underlying link index (a veth's peer). */
export const IFLA_LINK = 5;
/** Index of the master (bridge) device; 0 detaches. */
export const IFLA_MASTER = 10;
/** Operational state (RFC 2863). */
export const IFLA_OPERSTATE = 16;
/** Nested: kind and kind-specific data. */
export const IFLA_LINKINFO = 18;
/** Move to the network namespace of a pid. */
export const IFLA_NET_NS_PID = 19;
/** Move to the network namespace open at an fd. */
export const IFLA_NET_NS_FD = 28;
/** Peer's netns id, as seen from this namespace. */
export const IFLA_LINK_NETNSID = 37;
/** Inside IFLA_LINKINFO: the kind ("bridge", "veth"). */
export const IFLA_INFO_KIND = 1;
/** Inside IFLA_LINKINFO: nested kind-specific data. */
export const IFLA_INFO_DATA = 2;
/** Inside IFLA_LINKINFO: the kind of the slave side (e.g. "bridge" for a bridge port). */
export const IFLA_INFO_SLAVE_KIND = 4;
/** Inside a veth's IFLA_INFO_DATA: ifinfomsg + attributes of the peer. */
export const VETH_INFO_PEER = 1;

// --- address attributes -------------------------------------------------------------------------
/** Peer (or, without IFA_LOCAL, local) address. */
export const IFA_ADDRESS = 1;
/** Local address. */
export const IFA_LOCAL = 2;
/** Label (alias name). */
export const IFA_LABEL = 3;
/** Broadcast address. */
export const IFA_BROADCAST = 4;

// --- route attributes and values ----------------------------------------------------------------
/** Destination prefix. */
export const RTA_DST = 1;
/** Output interface index. */
export const RTA_OIF = 4;
/** Gateway address. */
export const RTA_GATEWAY = 5;
/** Metric. */
export const RTA_PRIORITY = 6;
/** Preferred source address. */
export const RTA_PREFSRC = 7;
/** Table id (for tables above 255). */
export const RTA_TABLE = 15;
/** The main routing table. */
export const RT_TABLE_MAIN = 254;
/** The local routing table (addresses of the host itself). */
export const RT_TABLE_LOCAL = 255;
/** Route installed by the kernel (connected subnets). */
export const RTPROT_KERNEL = 2;
/** Route installed by an administrator at boot (`ip route add` default). */
export const RTPROT_BOOT = 3;
/** Route installed by an administrator as static. */
export const RTPROT_STATIC = 4;
/** Scope: global. */
export const RT_SCOPE_UNIVERSE = 0;
/** Scope: directly attached link. */
export const RT_SCOPE_LINK = 253;
/** Scope: this host. */
export const RT_SCOPE_HOST = 254;
/** Route type: a gateway or direct route. */
export const RTN_UNICAST = 1;
/** Route type: a local address. */
export const RTN_LOCAL = 2;

// --- attribute encoding -------------------------------------------------------------------------
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Rounds up to netlink's 4-byte alignment. */
export function align4(n: number): number {
  return (n + 3) & ~3;
}

/** One attribute: a type and either raw bytes or nested attributes. */
export type Attr =
  | { type: number; data: Uint8Array }
  | { type: number; nested: readonly Attr[] };

/** A u8 attribute. */
export function attrU8(type: number, value: number): Attr {
  return { type, data: Uint8Array.of(value) };
}

/** A native-endian u32 attribute. */
export function attrU32(type: number, value: number): Attr {
  const data = new Uint8Array(4);
  new DataView(data.buffer).setUint32(0, value >>> 0, true);
  return { type, data };
}

/** A NUL-terminated string attribute. */
export function attrString(type: number, value: string): Attr {
  const bytes = encoder.encode(value);
  const data = new Uint8Array(bytes.length + 1);
  data.set(bytes);
  return { type, data };
}

/** A nested attribute (NLA_F_NESTED is not set: rtnetlink does not require it). */
export function attrNested(type: number, nested: readonly Attr[]): Attr {
  return { type, nested };
}

/** Encoded size of attributes, padding included. */
export function attrsSize(attrs: readonly Attr[]): number {
  let n = 0;
  for (const a of attrs) n += align4(4 + ("data" in a ? a.data.length : attrsSize(a.nested)));
  return n;
}

/** Writes attributes at `offset` of `out`; returns the offset after the last one. */
export function writeAttrs(out: Uint8Array, offset: number, attrs: readonly Attr[]): number {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (const a of attrs) {
    const start = offset;
    offset += 4;
    if ("data" in a) {
      out.set(a.data, offset);
      offset += a.data.length;
    } else {
      offset = writeAttrs(out, offset, a.nested);
    }
    // rta_len excludes the trailing padding; the next attribute starts aligned.
    view.setUint16(start, offset - start, true);
    view.setUint16(start + 2, a.type, true);
    offset = align4(offset);
  }
  return offset;
}

/** Encodes attributes alone (e.g. a nested payload written by hand). */
export function encodeAttrs(attrs: readonly Attr[]): Uint8Array {
  const out = new Uint8Array(attrsSize(attrs));
  writeAttrs(out, 0, attrs);
  return out;
}

/** Parsed attributes: the last value per type, with typed readers. */
export class Attrs {
  readonly #map = new Map<number, Uint8Array>();

  constructor(bytes: Uint8Array) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let off = 0;
    while (off + 4 <= bytes.length) {
      const len = view.getUint16(off, true);
      // NLA_F_NESTED and NLA_F_NET_BYTEORDER live in the top two bits of the type.
      const type = view.getUint16(off + 2, true) & 0x3fff;
      if (len < 4 || off + len > bytes.length) break;
      this.#map.set(type, bytes.subarray(off + 4, off + len));
      off += align4(len);
    }
  }

  /** Whether the attribute is present. */
  has(type: number): boolean {
    return this.#map.has(type);
  }
  /** Raw payload. */
  bytes(type: number): Uint8Array | undefined {
    return this.#map.get(type);
  }
  /** A u8 value. */
  u8(type: number): number | undefined {
    const b = this.#map.get(type);
    return b && b.length >= 1 ? b[0] : undefined;
  }
  /** A native-endian u32 value. */
  u32(type: number): number | undefined {
    const b = this.#map.get(type);
    return b && b.length >= 4
      ? new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true)
      : undefined;
  }
  /** A string value, without its NUL. */
  string(type: number): string | undefined {
    const b = this.#map.get(type);
    if (!b) return undefined;
    const nul = b.indexOf(0);
    return decoder.decode(nul === -1 ? b : b.subarray(0, nul));
  }
  /** Nested attributes. */
  nested(type: number): Attrs | undefined {
    const b = this.#map.get(type);
    return b ? new Attrs(b) : undefined;
  }
  /** An IPv4 address in dotted form. */
  ipv4(type: number): string | undefined {
    const b = this.#map.get(type);
    return b && b.length === 4 ? `${b[0]}.${b[1]}.${b[2]}.${b[3]}` : undefined;
  }
}

// --- fixed headers ------------------------------------------------------------------------------
/** struct ifinfomsg (16 bytes). */
export interface IfInfoMsg {
  family?: number;
  /** ARPHRD_* device type (read only). */
  type?: number;
  index?: number;
  flags?: number;
  change?: number;
}

/** Encodes struct ifinfomsg. */
export function encodeIfInfo(m: IfInfoMsg): Uint8Array {
  const out = new Uint8Array(16);
  const v = new DataView(out.buffer);
  v.setUint8(0, m.family ?? AF_UNSPEC);
  v.setUint16(2, m.type ?? 0, true);
  v.setInt32(4, m.index ?? 0, true);
  v.setUint32(8, (m.flags ?? 0) >>> 0, true);
  v.setUint32(12, (m.change ?? 0) >>> 0, true);
  return out;
}

/** Decodes struct ifinfomsg. */
export function decodeIfInfo(b: Uint8Array): Required<IfInfoMsg> {
  const v = new DataView(b.buffer, b.byteOffset, 16);
  return {
    family: v.getUint8(0),
    type: v.getUint16(2, true),
    index: v.getInt32(4, true),
    flags: v.getUint32(8, true),
    change: v.getUint32(12, true),
  };
}

/** struct ifaddrmsg (8 bytes). */
export interface IfAddrMsg {
  family: number;
  prefixLen: number;
  flags?: number;
  scope?: number;
  index: number;
}

/** Encodes struct ifaddrmsg. */
export function encodeIfAddr(m: IfAddrMsg): Uint8Array {
  const out = new Uint8Array(8);
  const v = new DataView(out.buffer);
  v.setUint8(0, m.family);
  v.setUint8(1, m.prefixLen);
  v.setUint8(2, m.flags ?? 0);
  v.setUint8(3, m.scope ?? 0);
  v.setUint32(4, m.index, true);
  return out;
}

/** Decodes struct ifaddrmsg. */
export function decodeIfAddr(b: Uint8Array): Required<IfAddrMsg> {
  const v = new DataView(b.buffer, b.byteOffset, 8);
  return {
    family: v.getUint8(0),
    prefixLen: v.getUint8(1),
    flags: v.getUint8(2),
    scope: v.getUint8(3),
    index: v.getUint32(4, true),
  };
}

/** struct rtmsg (12 bytes). */
export interface RtMsg {
  family: number;
  dstLen?: number;
  srcLen?: number;
  tos?: number;
  table?: number;
  protocol?: number;
  scope?: number;
  type?: number;
  flags?: number;
}

/** Encodes struct rtmsg. */
export function encodeRtMsg(m: RtMsg): Uint8Array {
  const out = new Uint8Array(12);
  const v = new DataView(out.buffer);
  v.setUint8(0, m.family);
  v.setUint8(1, m.dstLen ?? 0);
  v.setUint8(2, m.srcLen ?? 0);
  v.setUint8(3, m.tos ?? 0);
  v.setUint8(4, m.table ?? 0);
  v.setUint8(5, m.protocol ?? 0);
  v.setUint8(6, m.scope ?? 0);
  v.setUint8(7, m.type ?? 0);
  v.setUint32(8, m.flags ?? 0, true);
  return out;
}

/** Decodes struct rtmsg. */
export function decodeRtMsg(b: Uint8Array): Required<RtMsg> {
  const v = new DataView(b.buffer, b.byteOffset, 12);
  return {
    family: v.getUint8(0),
    dstLen: v.getUint8(1),
    srcLen: v.getUint8(2),
    tos: v.getUint8(3),
    table: v.getUint8(4),
    protocol: v.getUint8(5),
    scope: v.getUint8(6),
    type: v.getUint8(7),
    flags: v.getUint32(8, true),
  };
}

// --- whole messages -----------------------------------------------------------------------------
/** A message to send: type, flags, fixed header bytes and attributes. */
export interface Request {
  /** nlmsg_type (RTM_*, NLMSG_*). */
  type: number;
  /** nlmsg_flags (NLM_F_*). */
  flags: number;
  /** The family header (ifinfomsg, ifaddrmsg, rtmsg …), already encoded. */
  header: Uint8Array;
  /** Attributes after the family header. */
  attrs?: readonly Attr[];
}

/** Encodes one netlink message with the given sequence number (nlmsg_pid 0: to the kernel). */
export function encodeMessage(req: Request, seq: number): Uint8Array {
  const attrs = req.attrs ?? [];
  const headerLen = align4(req.header.length);
  const len = NLMSG_HDRLEN + headerLen + attrsSize(attrs);
  const out = new Uint8Array(len);
  const v = new DataView(out.buffer);
  v.setUint32(0, len, true);
  v.setUint16(4, req.type, true);
  v.setUint16(6, req.flags, true);
  v.setUint32(8, seq >>> 0, true);
  v.setUint32(12, 0, true);
  out.set(req.header, NLMSG_HDRLEN);
  writeAttrs(out, NLMSG_HDRLEN + headerLen, attrs);
  return out;
}

/** One received message: header fields and its payload (family header + attributes). */
export interface Message {
  /** nlmsg_type (RTM_*, NLMSG_*). */
  type: number;
  /** nlmsg_flags (NLM_F_*). */
  flags: number;
  /** Sequence number it answers. */
  seq: number;
  /** Sender port id (0: the kernel). */
  pid: number;
  /** Family header and attributes. */
  payload: Uint8Array;
}

/** Splits a received datagram into messages. */
export function decodeMessages(buf: Uint8Array): Message[] {
  const out: Message[] = [];
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let off = 0;
  while (off + NLMSG_HDRLEN <= buf.length) {
    const len = v.getUint32(off, true);
    if (len < NLMSG_HDRLEN || off + len > buf.length) {
      throw new Error(`Malformed netlink message: length ${len} at offset ${off} of ${buf.length}`);
    }
    out.push({
      type: v.getUint16(off + 4, true),
      flags: v.getUint16(off + 6, true),
      seq: v.getUint32(off + 8, true),
      pid: v.getUint32(off + 12, true),
      payload: buf.subarray(off + NLMSG_HDRLEN, off + len),
    });
    off += align4(len);
  }
  return out;
}

/** The content of an NLMSG_ERROR message: errno (0 for an ack) and the kernel's text if any. */
export interface ErrorAck {
  /** Positive errno, 0 for success. */
  errno: number;
  /** Extended ack text (NLMSGERR_ATTR_MSG), when the kernel gave one. */
  message?: string;
}

/** Decodes an NLMSG_ERROR payload (struct nlmsgerr + optional TLVs). */
export function decodeErrorAck(msg: Message): ErrorAck {
  const p = msg.payload;
  const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
  const raw = v.getInt32(0, true);
  const error = raw === 0 ? 0 : -raw;
  const ack: ErrorAck = { errno: error };
  if (msg.flags & NLM_F_ACK_TLVS && p.length >= 4 + NLMSG_HDRLEN) {
    // The echoed request: its header only when capped, else the whole message.
    const echoedLen = msg.flags & NLM_F_CAPPED ? NLMSG_HDRLEN : v.getUint32(4, true);
    const tlvs = new Attrs(p.subarray(Math.min(p.length, 4 + align4(echoedLen))));
    const text = tlvs.string(NLMSGERR_ATTR_MSG);
    if (text) ack.message = text;
  }
  return ack;
}

// --- IPv4 helpers ---------------------------------------------------------------------------------
/** 4 bytes of a dotted IPv4 address; throws on anything else. */
export function ipv4Bytes(address: string): Uint8Array {
  const parts = address.split(".");
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) {
    throw new TypeError(`Invalid IPv4 address "${address}"`);
  }
  return Uint8Array.from(parts.map(Number));
}
