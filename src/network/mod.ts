/**
 * Networking foundation: rtnetlink over FFI (links, addresses, routes), sockets in other network
 * namespaces, IPAM, nftables NAT and the sysctls bridge networking needs.
 *
 * @module
 */
export { SyscallError } from "../../ffi/syscall_error.ts";
export type { Attr, Message, Request } from "./netlink.ts";
export { NetlinkError, type RequestLabel, RouteSocket } from "./socket.ts";
export { openRouteSocketIn } from "./netns.ts";
export {
  type BridgeOptions,
  createBridge,
  createVeth,
  deleteLink,
  getLink,
  type LinkChanges,
  type LinkInfo,
  type LinkRef,
  listLinks,
  requireLink,
  setLink,
  setLinkUp,
  validateLinkName,
  type VethOptions,
} from "./links.ts";
export {
  addAddress,
  type AddressInfo,
  type AddressSpec,
  deleteAddress,
  listAddresses,
} from "./addresses.ts";
export {
  addRoute,
  deleteRoute,
  hostSubnets,
  listRoutes,
  type RouteInfo,
  type RouteSpec,
} from "./routes.ts";
export {
  type AddNetworkOptions,
  type AllocateOptions,
  chooseSubnet,
  DEFAULT_POOLS,
  Ipam,
  type NetworkPool,
  type PoolSpec,
} from "./ipam.ts";
export { contains, intToIp, ipToInt, overlaps, parseCidr, type Subnet } from "./ipv4.ts";
export { type Masquerade, Nat, type NatOptions, type NatRule, type PortMapping } from "./nat.ts";
export {
  enableIpForward,
  readSysctl,
  setRouteLocalnet,
  type SysctlOptions,
  writeSysctl,
} from "./sysctl.ts";
