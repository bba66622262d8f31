/**
 * Links over rtnetlink: bridges, veth pairs, moving a link into a namespace, up/down, master,
 * rename, delete, lookup and listing. Every call acts in the namespace of the socket given.
 *
 * @module
 */
import { NotFoundError } from "../errors.ts";
import {
  AF_UNSPEC,
  type Attr,
  attrNested,
  Attrs,
  attrString,
  attrU32,
  decodeIfInfo,
  encodeAttrs,
  encodeIfInfo,
  IFF_LOWER_UP,
  IFF_UP,
  IFLA_ADDRESS,
  IFLA_IFNAME,
  IFLA_INFO_DATA,
  IFLA_INFO_KIND,
  IFLA_LINK,
  IFLA_LINKINFO,
  IFLA_MASTER,
  IFLA_MTU,
  IFLA_NET_NS_FD,
  type Message,
  NLM_F_CREATE,
  NLM_F_EXCL,
  RTM_DELLINK,
  RTM_GETLINK,
  RTM_NEWLINK,
  VETH_INFO_PEER,
} from "./netlink.ts";
import { NetlinkError, type RouteSocket } from "./socket.ts";

const ENODEV = 19;
const IFNAMSIZ = 16;

/** A link by name or by index (in the socket's namespace). */
export type LinkRef = string | number;

/** What the kernel reports about a link. */
export interface LinkInfo {
  /** Interface index. */
  index: number;
  /** Interface name. */
  name: string;
  /** IFF_* flags. */
  flags: number;
  /** Administratively up (IFF_UP). */
  up: boolean;
  /** Has carrier (IFF_LOWER_UP). */
  lowerUp: boolean;
  /** MTU in bytes. */
  mtu?: number;
  /** MAC address, `aa:bb:…`. */
  mac?: string;
  /** IFLA_INFO_KIND: `bridge`, `veth`, … (absent for physical devices and `lo`). */
  kind?: string;
  /** Index of the master device (a bridge port's bridge). */
  master?: number;
  /** IFLA_LINK: a veth's peer index (in the peer's namespace). */
  link?: number;
}

/** Throws a clear error for an interface name the kernel would refuse. */
export function validateLinkName(name: string): void {
  if (
    name.length === 0 || new TextEncoder().encode(name).length >= IFNAMSIZ ||
    /[\s/:]/.test(name) || name === "." || name === ".."
  ) {
    throw new TypeError(
      `Invalid interface name "${name}": 1 to ${IFNAMSIZ - 1} bytes, no spaces, "/" or ":"`,
    );
  }
}

function label(ref: LinkRef): string {
  return typeof ref === "number" ? `#${ref}` : ref;
}

/** The ifinfomsg index and name attribute that address `ref`. */
function address(ref: LinkRef): { index: number; attrs: Attr[] } {
  return typeof ref === "number"
    ? { index: ref, attrs: [] }
    : { index: 0, attrs: [attrString(IFLA_IFNAME, ref)] };
}

function macOf(b: Uint8Array | undefined): string | undefined {
  if (!b || b.length === 0) return undefined;
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join(":");
}

/** Parses an RTM_NEWLINK message into a {@link LinkInfo}. */
export function parseLink(msg: Message): LinkInfo {
  const hdr = decodeIfInfo(msg.payload);
  const attrs = new Attrs(msg.payload.subarray(16));
  const info = attrs.nested(IFLA_LINKINFO);
  const link: LinkInfo = {
    index: hdr.index,
    name: attrs.string(IFLA_IFNAME) ?? "",
    flags: hdr.flags,
    up: (hdr.flags & IFF_UP) !== 0,
    lowerUp: (hdr.flags & IFF_LOWER_UP) !== 0,
  };
  const mtu = attrs.u32(IFLA_MTU);
  if (mtu !== undefined) link.mtu = mtu;
  const mac = macOf(attrs.bytes(IFLA_ADDRESS));
  if (mac) link.mac = mac;
  const kind = info?.string(IFLA_INFO_KIND);
  if (kind) link.kind = kind;
  const master = attrs.u32(IFLA_MASTER);
  if (master) link.master = master;
  const peer = attrs.u32(IFLA_LINK);
  if (peer !== undefined && peer !== hdr.index) link.link = peer;
  return link;
}

/** Looks a link up; `undefined` when there is none. */
export function getLink(sock: RouteSocket, ref: LinkRef): LinkInfo | undefined {
  const a = address(ref);
  try {
    // A get (not a dump) with NLM_F_ACK: the kernel answers with the link, then the ack.
    const msgs = sock.request(
      { type: RTM_GETLINK, flags: 0, header: encodeIfInfo({ index: a.index }), attrs: a.attrs },
      { action: "get link", target: label(ref) },
    );
    const m = msgs.find((x) => x.type === RTM_NEWLINK);
    return m ? parseLink(m) : undefined;
  } catch (err) {
    if (err instanceof NetlinkError && err.errno === ENODEV) return undefined;
    throw err;
  }
}

/** Looks a link up; throws NotFoundError when there is none. */
export function requireLink(sock: RouteSocket, ref: LinkRef): LinkInfo {
  const link = getLink(sock, ref);
  if (!link) throw new NotFoundError(`Cannot find network interface "${label(ref)}"`);
  return link;
}

/** Every link of the socket's namespace. */
export function listLinks(sock: RouteSocket): LinkInfo[] {
  return sock.dump(
    { type: RTM_GETLINK, header: encodeIfInfo({ family: AF_UNSPEC }) },
    { action: "list links" },
  ).filter((m) => m.type === RTM_NEWLINK).map(parseLink);
}

/** Options of a new bridge. */
export interface BridgeOptions {
  /** MTU in bytes. */
  mtu?: number;
  /** Bring it up at once. */
  up?: boolean;
}

/** Creates a bridge device; EEXIST if the name is taken. */
export function createBridge(sock: RouteSocket, name: string, opts: BridgeOptions = {}): void {
  validateLinkName(name);
  const attrs: Attr[] = [
    attrString(IFLA_IFNAME, name),
    attrNested(IFLA_LINKINFO, [attrString(IFLA_INFO_KIND, "bridge")]),
  ];
  if (opts.mtu) attrs.push(attrU32(IFLA_MTU, opts.mtu));
  sock.request({
    type: RTM_NEWLINK,
    flags: NLM_F_CREATE | NLM_F_EXCL,
    header: encodeIfInfo({ flags: opts.up ? IFF_UP : 0, change: opts.up ? IFF_UP : 0 }),
    attrs,
  }, { action: "create bridge", target: name });
}

/** Options of a new veth pair. */
export interface VethOptions {
  /** Name of the first end (stays in the socket's namespace). */
  name: string;
  /** Name of the peer end. */
  peer: string;
  /** Create the peer directly in the namespace open at this fd. */
  peerNetnsFd?: number;
  /** MTU in bytes. */
  mtu?: number;
}

/** Creates a veth pair; EEXIST if either name is taken (in its namespace). */
export function createVeth(sock: RouteSocket, opts: VethOptions): void {
  validateLinkName(opts.name);
  validateLinkName(opts.peer);
  const peerAttrs: Attr[] = [attrString(IFLA_IFNAME, opts.peer)];
  if (opts.peerNetnsFd !== undefined) peerAttrs.push(attrU32(IFLA_NET_NS_FD, opts.peerNetnsFd));
  if (opts.mtu) peerAttrs.push(attrU32(IFLA_MTU, opts.mtu));
  // VETH_INFO_PEER's payload is a whole ifinfomsg followed by the peer's attributes.
  const enc = encodeAttrs(peerAttrs);
  const peerPayload = new Uint8Array(16 + enc.length);
  peerPayload.set(encodeIfInfo({}), 0);
  peerPayload.set(enc, 16);
  const attrs: Attr[] = [
    attrString(IFLA_IFNAME, opts.name),
    attrNested(IFLA_LINKINFO, [
      attrString(IFLA_INFO_KIND, "veth"),
      attrNested(IFLA_INFO_DATA, [{ type: VETH_INFO_PEER, data: peerPayload }]),
    ]),
  ];
  if (opts.mtu) attrs.push(attrU32(IFLA_MTU, opts.mtu));
  sock.request({
    type: RTM_NEWLINK,
    flags: NLM_F_CREATE | NLM_F_EXCL,
    header: encodeIfInfo({}),
    attrs,
  }, { action: "create veth pair", target: `${opts.name}/${opts.peer}` });
}

/** Changes to apply to an existing link, in one request. */
export interface LinkChanges {
  /** Administrative state. */
  up?: boolean;
  /** Enslave to this bridge; `null` detaches. */
  master?: LinkRef | null;
  /** New name. */
  name?: string;
  /** Move into the network namespace open at this fd (the link leaves this namespace). */
  netnsFd?: number;
  /** MTU in bytes. */
  mtu?: number;
}

function describeChanges(c: LinkChanges): string {
  const parts: string[] = [];
  if (c.netnsFd !== undefined) parts.push("move link");
  if (c.name !== undefined) parts.push("rename link");
  if (c.master !== undefined) parts.push(c.master === null ? "detach link" : "attach link");
  if (c.mtu !== undefined) parts.push("set mtu of link");
  if (c.up !== undefined) parts.push(c.up ? "bring up link" : "bring down link");
  return parts.length === 1 ? parts[0] : "change link";
}

/**
 * Applies `changes` to a link in one RTM_NEWLINK. A rename needs the link's index, so a name
 * reference is resolved first.
 */
export function setLink(sock: RouteSocket, ref: LinkRef, changes: LinkChanges): void {
  let target = address(ref);
  if (changes.name !== undefined) {
    validateLinkName(changes.name);
    if (typeof ref === "string") target = { index: requireLink(sock, ref).index, attrs: [] };
    target.attrs.push(attrString(IFLA_IFNAME, changes.name));
  }
  const attrs = target.attrs;
  if (changes.master !== undefined) {
    const master = changes.master === null
      ? 0
      : typeof changes.master === "number"
      ? changes.master
      : requireLink(sock, changes.master).index;
    attrs.push(attrU32(IFLA_MASTER, master));
  }
  if (changes.mtu !== undefined) attrs.push(attrU32(IFLA_MTU, changes.mtu));
  if (changes.netnsFd !== undefined) attrs.push(attrU32(IFLA_NET_NS_FD, changes.netnsFd));
  const flags = changes.up === undefined ? 0 : changes.up ? IFF_UP : 0;
  const change = changes.up === undefined ? 0 : IFF_UP;
  sock.request({
    type: RTM_NEWLINK,
    flags: 0,
    header: encodeIfInfo({ index: target.index, flags, change }),
    attrs,
  }, { action: describeChanges(changes), target: label(ref) });
}

/** Brings a link up (or down). */
export function setLinkUp(sock: RouteSocket, ref: LinkRef, up = true): void {
  setLink(sock, ref, { up });
}

/**
 * Deletes a link (for a veth, both ends go). Returns false when it did not exist, so cleanup
 * paths can be idempotent.
 */
export function deleteLink(sock: RouteSocket, ref: LinkRef): boolean {
  const a = address(ref);
  try {
    sock.request(
      { type: RTM_DELLINK, flags: 0, header: encodeIfInfo({ index: a.index }), attrs: a.attrs },
      { action: "delete link", target: label(ref) },
    );
    return true;
  } catch (err) {
    if (err instanceof NetlinkError && err.errno === ENODEV) return false;
    throw err;
  }
}
