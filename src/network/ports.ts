/**
 * Choosing host ports for published ports: a fixed port is checked, an open one gets a free port
 * of its range or of the host's ephemeral range. A port is probed with a real bind on the host;
 * a DNAT-published port holds no socket, so callers also pass the ports other containers already
 * publish. The pure spec parsing lives in port_spec.ts (re-exported here).
 *
 * @module
 */
import * as fs from "node:fs";
import dgram from "node:dgram";
import { ConflictError, UnavailableError } from "../errors.ts";
import type { PortBinding, PortSpec } from "./port_spec.ts";

export * from "./port_spec.ts";

/** The host's ephemeral port range (`net.ipv4.ip_local_port_range`), Docker's random range. */
export function ephemeralRange(procSys = "/proc/sys"): [number, number] {
  try {
    const [a, b] = fs.readFileSync(`${procSys}/net/ipv4/ip_local_port_range`, "utf8").trim()
      .split(/\s+/).map(Number);
    if (a > 0 && b >= a && b <= 65535) return [a, b];
  } catch {
    // fall through to the kernel default
  }
  return [32768, 60999];
}

/** Whether a host port can be bound now (TCP listen / UDP bind on `hostIp`, or every address). */
export async function portIsFree(
  proto: "tcp" | "udp",
  hostIp: string,
  port: number,
): Promise<boolean> {
  const hostname = hostIp || "0.0.0.0";
  if (proto === "tcp") {
    try {
      const l = Deno.listen({ hostname, port, transport: "tcp" });
      l.close();
      return true;
    } catch (err) {
      if (err instanceof Deno.errors.AddrInUse) return false;
      throw err;
    }
  }
  return await new Promise<boolean>((resolve, reject) => {
    const s = dgram.createSocket("udp4");
    s.once("error", (err: NodeJS.ErrnoException) => {
      s.close();
      if (err.code === "EADDRINUSE") resolve(false);
      else reject(err);
    });
    s.bind(port, hostname, () => s.close(() => resolve(true)));
  });
}

/** Options of {@link choosePorts}. */
export interface ChoosePortsOptions {
  /** Bindings other containers hold (checked by value, since DNAT holds no socket). */
  taken: readonly PortBinding[];
  /** Random range; default the host's ephemeral range. */
  range?: [number, number];
  /** Probe (tests inject one); default {@link portIsFree}. */
  isFree?: (proto: "tcp" | "udp", hostIp: string, port: number) => Promise<boolean>;
}

function clashes(a: { proto: string; hostIp: string; hostPort: number }, b: PortBinding): boolean {
  return a.proto === b.proto && a.hostPort === b.hostPort &&
    (a.hostIp === "" || b.hostIp === "" || a.hostIp === b.hostIp);
}

/**
 * Turns specs into bindings: fixed host ports are checked (in use by another container or by a
 * host process → ConflictError naming it), open ones get a free port of their range or of the
 * random range. Pure apart from the probes; the caller holds the ports lock.
 */
export async function choosePorts(
  specs: readonly PortSpec[],
  opts: ChoosePortsOptions,
): Promise<PortBinding[]> {
  const isFree = opts.isFree ?? portIsFree;
  const out: PortBinding[] = [];
  const used = (c: { proto: string; hostIp: string; hostPort: number }): boolean =>
    opts.taken.some((t) => clashes(c, t)) || out.some((t) => clashes(c, t));
  for (const s of specs) {
    if (s.hostPort !== 0 && s.hostPortEnd === s.hostPort) {
      const c = { proto: s.proto, hostIp: s.hostIp, hostPort: s.hostPort };
      if (used(c) || !(await isFree(s.proto, s.hostIp, s.hostPort))) {
        throw new ConflictError(
          `Cannot publish port ${
            s.hostIp || "0.0.0.0"
          }:${s.hostPort}/${s.proto}: the port is already allocated`,
        );
      }
      out.push({ ...c, containerPort: s.containerPort });
      continue;
    }
    const [lo, hi] = s.hostPort !== 0
      ? [s.hostPort, s.hostPortEnd]
      : (opts.range ?? ephemeralRange());
    const size = hi - lo + 1;
    // Random start, then sequential: spreads containers out without a full shuffle.
    const start = s.hostPort !== 0 ? 0 : Math.floor(Math.random() * size);
    let found: number | undefined;
    for (let i = 0; i < size && found === undefined; i++) {
      const port = lo + ((start + i) % size);
      const c = { proto: s.proto, hostIp: s.hostIp, hostPort: port };
      if (!used(c) && await isFree(s.proto, s.hostIp, port)) found = port;
    }
    if (found === undefined) {
      const what = s.hostPort !== 0 ? `in range ${lo}-${hi}` : "in the ephemeral range";
      const msg = `Cannot publish port ${s.containerPort}/${s.proto}: no free host port ${what}`;
      throw s.hostPort !== 0 ? new ConflictError(msg) : new UnavailableError(msg);
    }
    out.push({ proto: s.proto, hostIp: s.hostIp, hostPort: found, containerPort: s.containerPort });
  }
  return out;
}
