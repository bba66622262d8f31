/**
 * IPv4 routes over rtnetlink: add (default via a gateway, or a subnet on a link), delete, dump.
 * The dump feeds the IPAM's check that a new bridge subnet collides with nothing on the host.
 *
 * @module
 */
import {
  AF_INET,
  type Attr,
  Attrs,
  attrU32,
  decodeRtMsg,
  encodeRtMsg,
  ipv4Bytes,
  NLM_F_CREATE,
  NLM_F_EXCL,
  RT_SCOPE_LINK,
  RT_SCOPE_UNIVERSE,
  RT_TABLE_LOCAL,
  RT_TABLE_MAIN,
  RTA_DST,
  RTA_GATEWAY,
  RTA_OIF,
  RTA_PREFSRC,
  RTA_PRIORITY,
  RTA_TABLE,
  RTM_DELROUTE,
  RTM_GETROUTE,
  RTM_NEWROUTE,
  RTN_UNICAST,
  RTPROT_BOOT,
} from "./netlink.ts";
import { NetlinkError, type RouteSocket } from "./socket.ts";
import { type LinkRef, requireLink } from "./links.ts";
import { parseCidr } from "./ipv4.ts";

const ESRCH = 3;

/** A route to add or delete. */
export interface RouteSpec {
  /** Destination subnet; default `0.0.0.0/0` (the default route). */
  dst?: string;
  /** Next hop. Without it the route is on-link (scope link) via `link`. */
  gateway?: string;
  /** Output device. */
  link?: LinkRef;
  /** Routing table; default main. */
  table?: number;
  /** Route metric (RTA_PRIORITY). */
  metric?: number;
  /** Preferred source address. */
  source?: string;
}

/** A route as the kernel reports it. */
export interface RouteInfo {
  /** Destination in CIDR form (`0.0.0.0/0` for a default route). */
  dst: string;
  /** Next hop. */
  gateway?: string;
  /** Output link index. */
  oif?: number;
  /** Routing table id. */
  table: number;
  /** RTPROT_* origin (2 kernel, 3 boot, 4 static). */
  protocol: number;
  /** RT_SCOPE_* value. */
  scope: number;
  /** RTN_* type (1 unicast, 2 local, 3 broadcast …). */
  type: number;
  /** Route metric (RTA_PRIORITY). */
  metric?: number;
  /** Preferred source address. */
  source?: string;
}

function build(
  sock: RouteSocket,
  spec: RouteSpec,
): { header: Uint8Array; attrs: Attr[]; what: string } {
  const dst = parseCidr(spec.dst ?? "0.0.0.0/0");
  const table = spec.table ?? RT_TABLE_MAIN;
  const attrs: Attr[] = [];
  if (dst.prefixLen > 0) attrs.push({ type: RTA_DST, data: ipv4Bytes(dst.cidr.split("/")[0]) });
  if (spec.gateway) attrs.push({ type: RTA_GATEWAY, data: ipv4Bytes(spec.gateway) });
  if (spec.link !== undefined) {
    const index = typeof spec.link === "number" ? spec.link : requireLink(sock, spec.link).index;
    attrs.push(attrU32(RTA_OIF, index));
  }
  if (spec.metric !== undefined) attrs.push(attrU32(RTA_PRIORITY, spec.metric));
  if (spec.source) attrs.push({ type: RTA_PREFSRC, data: ipv4Bytes(spec.source) });
  // Tables above 255 only fit in RTA_TABLE; rtm_table then says RT_TABLE_UNSPEC… as iproute2 does.
  if (table > 255) attrs.push(attrU32(RTA_TABLE, table));
  const header = encodeRtMsg({
    family: AF_INET,
    dstLen: dst.prefixLen,
    table: table > 255 ? 252 : table,
    protocol: RTPROT_BOOT,
    scope: spec.gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK,
    type: RTN_UNICAST,
  });
  const what = `${dst.cidr}${spec.gateway ? ` via ${spec.gateway}` : ""}${
    spec.link !== undefined ? ` dev ${spec.link}` : ""
  }`;
  return { header, attrs, what };
}

/** Adds a route; EEXIST if the same one exists. */
export function addRoute(sock: RouteSocket, spec: RouteSpec): void {
  const { header, attrs, what } = build(sock, spec);
  sock.request(
    { type: RTM_NEWROUTE, flags: NLM_F_CREATE | NLM_F_EXCL, header, attrs },
    { action: "add route", target: what },
  );
}

/** Deletes a route; returns false when there was no such route. */
export function deleteRoute(sock: RouteSocket, spec: RouteSpec): boolean {
  const { header, attrs, what } = build(sock, spec);
  // The scope of a delete request is a filter upper bound; RT_SCOPE_NOWHERE (255) would match
  // all, but iproute2 sends the route's scope, and so do we.
  try {
    sock.request({ type: RTM_DELROUTE, flags: 0, header, attrs }, {
      action: "delete route",
      target: what,
    });
    return true;
  } catch (err) {
    if (err instanceof NetlinkError && err.errno === ESRCH) return false;
    throw err;
  }
}

/** Every IPv4 route of the socket's namespace (all tables unless `table` is given). */
export function listRoutes(sock: RouteSocket, opts: { table?: number } = {}): RouteInfo[] {
  const msgs = sock.dump(
    { type: RTM_GETROUTE, header: encodeRtMsg({ family: AF_INET }) },
    { action: "list routes" },
  );
  const out: RouteInfo[] = [];
  for (const m of msgs) {
    if (m.type !== RTM_NEWROUTE) continue;
    const hdr = decodeRtMsg(m.payload);
    if (hdr.family !== AF_INET) continue;
    const attrs = new Attrs(m.payload.subarray(12));
    const table = attrs.u32(RTA_TABLE) ?? hdr.table;
    if (opts.table !== undefined && table !== opts.table) continue;
    const dst = attrs.ipv4(RTA_DST) ?? "0.0.0.0";
    const r: RouteInfo = {
      dst: `${dst}/${hdr.dstLen}`,
      table,
      protocol: hdr.protocol,
      scope: hdr.scope,
      type: hdr.type,
    };
    const gw = attrs.ipv4(RTA_GATEWAY);
    if (gw) r.gateway = gw;
    const oif = attrs.u32(RTA_OIF);
    if (oif !== undefined) r.oif = oif;
    const metric = attrs.u32(RTA_PRIORITY);
    if (metric !== undefined) r.metric = metric;
    const src = attrs.ipv4(RTA_PREFSRC);
    if (src) r.source = src;
    out.push(r);
  }
  return out;
}

/**
 * Subnets the host already routes (any table but `local`, default routes excluded): a new bridge
 * subnet must overlap none of them, or containers could not reach those destinations.
 */
export function hostSubnets(sock: RouteSocket): string[] {
  const seen = new Set<string>();
  for (const r of listRoutes(sock)) {
    if (r.table === RT_TABLE_LOCAL || r.type !== RTN_UNICAST || r.dst.endsWith("/0")) continue;
    seen.add(r.dst);
  }
  return [...seen];
}
