/**
 * IPv4 arithmetic on unsigned 32-bit integers: parsing, CIDR subnets, containment, overlap.
 *
 * @module
 */
import { InvalidArgumentError } from "../errors.ts";

/** A parsed IPv4 subnet. `network` and `broadcast` are unsigned 32-bit integers. */
export interface Subnet {
  /** Canonical text, e.g. `172.17.0.0/16`. */
  cidr: string;
  /** Network address. */
  network: number;
  /** Prefix length. */
  prefixLen: number;
  /** Broadcast address. */
  broadcast: number;
}

/** Dotted IPv4 → unsigned 32-bit integer; throws InvalidArgumentError on bad input. */
export function ipToInt(address: string): number {
  const parts = address.split(".");
  if (parts.length !== 4 || parts.some((p) => !/^(0|[1-9]\d{0,2})$/.test(p) || Number(p) > 255)) {
    throw new InvalidArgumentError(`Invalid IPv4 address "${address}"`);
  }
  return parts.reduce((acc, p) => acc * 256 + Number(p), 0);
}

/** Unsigned 32-bit integer → dotted IPv4. */
export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/** Netmask of a prefix length, as an unsigned integer. */
export function maskOf(prefixLen: number): number {
  return prefixLen === 0 ? 0 : (0xffffffff << (32 - prefixLen)) >>> 0;
}

/** Builds a subnet from a network address (any host bits are cleared) and prefix length. */
export function subnetOf(address: number, prefixLen: number): Subnet {
  const network = (address & maskOf(prefixLen)) >>> 0;
  const broadcast = (network | ~maskOf(prefixLen)) >>> 0;
  return { cidr: `${intToIp(network)}/${prefixLen}`, network, prefixLen, broadcast };
}

/**
 * Parses `a.b.c.d/n`. With `strict` (the default), host bits must be zero, as Docker requires
 * for `--subnet`.
 */
export function parseCidr(cidr: string, strict = true): Subnet {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(cidr);
  if (!m || Number(m[2]) > 32) throw new InvalidArgumentError(`Invalid subnet "${cidr}"`);
  const addr = ipToInt(m[1]);
  const s = subnetOf(addr, Number(m[2]));
  if (strict && s.network !== addr) {
    throw new InvalidArgumentError(
      `Invalid subnet "${cidr}": host bits are set (did you mean "${s.cidr}"?)`,
    );
  }
  return s;
}

/** Whether `address` (an integer) lies in `subnet`. */
export function contains(subnet: Subnet, address: number): boolean {
  return ((address & maskOf(subnet.prefixLen)) >>> 0) === subnet.network;
}

/** Whether two subnets share any address. */
export function overlaps(a: Subnet, b: Subnet): boolean {
  return a.network <= b.broadcast && b.network <= a.broadcast;
}

/** Broadcast address of the subnet containing `address`. */
export function broadcastOf(address: string, prefixLen: number): string {
  return intToIp(subnetOf(ipToInt(address), prefixLen).broadcast);
}
