/**
 * The few kernel settings bridge networking needs, as plain file I/O under an injectable
 * `/proc/sys` (tests point it at a temp tree). These act on the network namespace of the process
 * that opens the file — the host's, from the engine's main thread.
 *
 * @module
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { InvalidArgumentError } from "../errors.ts";

/** Where sysctls live; tests pass a temp directory. */
export interface SysctlOptions {
  /** Root of the sysctl tree; default `/proc/sys`. */
  procSys?: string;
}

function fileOf(key: string, opts: SysctlOptions): string {
  if (!/^[A-Za-z0-9_.\-/]+$/.test(key) || key.includes("..")) {
    throw new InvalidArgumentError(`Invalid sysctl name "${key}"`);
  }
  // Dotted form (net.ipv4.ip_forward) or slash form (net/ipv4/conf/eth0.5/route_localnet): with
  // slashes the dots belong to the names, as sysctl(8) defines.
  const rel = key.includes("/") ? key : key.replaceAll(".", "/");
  return path.join(opts.procSys ?? "/proc/sys", rel);
}

/** Reads a sysctl's value, trimmed. */
export function readSysctl(key: string, opts: SysctlOptions = {}): string {
  return fs.readFileSync(fileOf(key, opts), "utf8").trim();
}

/** Writes a sysctl; returns the previous value so callers can note or restore it. */
export function writeSysctl(key: string, value: string, opts: SysctlOptions = {}): string {
  const file = fileOf(key, opts);
  const before = fs.readFileSync(file, "utf8").trim();
  if (before !== value) fs.writeFileSync(file, `${value}\n`);
  return before;
}

/**
 * Turns IPv4 forwarding on (bridge NAT needs it; Docker does the same at daemon start). Returns
 * whether it was off before.
 */
export function enableIpForward(opts: SysctlOptions = {}): boolean {
  return writeSysctl("net/ipv4/ip_forward", "1", opts) !== "1";
}

/**
 * Allows (or forbids) 127.0.0.0/8 source or destination addresses to be routed out of `iface`.
 * DNAT of connections to the host's 127.0.0.1 into a bridge needs it on that bridge — Docker sets
 * it on docker0 when it runs without its userland proxy. Returns the previous value.
 */
export function setRouteLocalnet(iface: string, on: boolean, opts: SysctlOptions = {}): boolean {
  if (iface.includes("/") || iface === "." || iface === "..") {
    throw new InvalidArgumentError(`Invalid interface name "${iface}"`);
  }
  return writeSysctl(`net/ipv4/conf/${iface}/route_localnet`, on ? "1" : "0", opts) === "1";
}
