/**
 * IPv4 addresses over rtnetlink: add, delete, list (RTM_NEWADDR / RTM_DELADDR / RTM_GETADDR).
 *
 * @module
 */
import {
  AF_INET,
  type Attr,
  Attrs,
  decodeIfAddr,
  encodeIfAddr,
  IFA_ADDRESS,
  IFA_BROADCAST,
  IFA_LABEL,
  IFA_LOCAL,
  ipv4Bytes,
  NLM_F_CREATE,
  NLM_F_EXCL,
  RTM_DELADDR,
  RTM_GETADDR,
  RTM_NEWADDR,
} from "./netlink.ts";
import { NetlinkError, type RouteSocket } from "./socket.ts";
import { type LinkRef, requireLink } from "./links.ts";
import { broadcastOf } from "./ipv4.ts";

const EADDRNOTAVAIL = 99;

/** An IPv4 address on a link. */
export interface AddressInfo {
  /** Link index. */
  index: number;
  /** Dotted address. */
  address: string;
  /** Prefix length (24 for a /24). */
  prefixLen: number;
  /** Broadcast address. */
  broadcast?: string;
  /** Address label (the interface name unless aliased). */
  label?: string;
  /** RT_SCOPE_* value (0 global, 254 host). */
  scope: number;
}

/** What to add or delete. */
export interface AddressSpec {
  /** Dotted IPv4 address. */
  address: string;
  /** Prefix length (24 for a /24). */
  prefixLen: number;
  /** Defaults to the subnet's broadcast address (as `ip addr add … brd +`), none for /31–/32. */
  broadcast?: string | null;
}

function indexOf(sock: RouteSocket, link: LinkRef): number {
  return typeof link === "number" ? link : requireLink(sock, link).index;
}

function checkPrefix(p: number): void {
  if (!Number.isInteger(p) || p < 0 || p > 32) throw new TypeError(`Invalid prefix length ${p}`);
}

/** Adds an IPv4 address to a link; EEXIST if it is already there. */
export function addAddress(sock: RouteSocket, link: LinkRef, spec: AddressSpec): void {
  checkPrefix(spec.prefixLen);
  const index = indexOf(sock, link);
  const local = ipv4Bytes(spec.address);
  const attrs: Attr[] = [{ type: IFA_LOCAL, data: local }, { type: IFA_ADDRESS, data: local }];
  const brd = spec.broadcast === undefined
    ? (spec.prefixLen < 31 ? broadcastOf(spec.address, spec.prefixLen) : null)
    : spec.broadcast;
  if (brd) attrs.push({ type: IFA_BROADCAST, data: ipv4Bytes(brd) });
  sock.request({
    type: RTM_NEWADDR,
    flags: NLM_F_CREATE | NLM_F_EXCL,
    header: encodeIfAddr({ family: AF_INET, prefixLen: spec.prefixLen, index }),
    attrs,
  }, {
    action: "add address",
    target: `${spec.address}/${spec.prefixLen}" to "${
      typeof link === "number" ? `#${link}` : link
    }`,
  });
}

/** Removes an IPv4 address from a link; returns false when it was not there. */
export function deleteAddress(sock: RouteSocket, link: LinkRef, spec: AddressSpec): boolean {
  checkPrefix(spec.prefixLen);
  const index = indexOf(sock, link);
  const local = ipv4Bytes(spec.address);
  try {
    sock.request({
      type: RTM_DELADDR,
      flags: 0,
      header: encodeIfAddr({ family: AF_INET, prefixLen: spec.prefixLen, index }),
      attrs: [{ type: IFA_LOCAL, data: local }, { type: IFA_ADDRESS, data: local }],
    }, { action: "delete address", target: `${spec.address}/${spec.prefixLen}` });
    return true;
  } catch (err) {
    if (err instanceof NetlinkError && err.errno === EADDRNOTAVAIL) return false;
    throw err;
  }
}

/** IPv4 addresses of the socket's namespace, optionally of one link only. */
export function listAddresses(sock: RouteSocket, link?: LinkRef): AddressInfo[] {
  const only = link === undefined ? undefined : indexOf(sock, link);
  const out: AddressInfo[] = [];
  const msgs = sock.dump(
    { type: RTM_GETADDR, header: encodeIfAddr({ family: AF_INET, prefixLen: 0, index: 0 }) },
    { action: "list addresses" },
  );
  for (const m of msgs) {
    if (m.type !== RTM_NEWADDR) continue;
    const hdr = decodeIfAddr(m.payload);
    if (hdr.family !== AF_INET || (only !== undefined && hdr.index !== only)) continue;
    const attrs = new Attrs(m.payload.subarray(8));
    const address = attrs.ipv4(IFA_LOCAL) ?? attrs.ipv4(IFA_ADDRESS);
    if (!address) continue;
    const info: AddressInfo = {
      index: hdr.index,
      address,
      prefixLen: hdr.prefixLen,
      scope: hdr.scope,
    };
    const brd = attrs.ipv4(IFA_BROADCAST);
    if (brd) info.broadcast = brd;
    const lbl = attrs.string(IFA_LABEL);
    if (lbl) info.label = lbl;
    out.push(info);
  }
  return out;
}
