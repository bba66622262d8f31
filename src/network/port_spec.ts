/**
 * Published port specs, pure: parsing `-p [ip:][hostPort:]containerPort[/proto]` (with ranges)
 * and `-P`, and the Docker shapes of a container's bindings (`HostConfig.PortBindings`,
 * `NetworkSettings.Ports`, `docker port`). No I/O, so run-option parsing can use it cheaply.
 *
 * @module
 */
import { InvalidArgumentError } from "../errors.ts";
import { ipToInt } from "./ipv4.ts";

/** One requested binding, as parsed from `-p` (a range is expanded into one per port). */
export interface PortSpec {
  /** Transport protocol. */
  proto: "tcp" | "udp";
  /** Host address; `""` for every address. */
  hostIp: string;
  /** First host port; 0 = any free port. */
  hostPort: number;
  /** Last host port of a host range the port is chosen from (`-p 8000-8010:80`); else = hostPort. */
  hostPortEnd: number;
  /** Port inside the container. */
  containerPort: number;
}

/** A binding in force: the host port is chosen. */
export interface PortBinding {
  /** Transport protocol. */
  proto: "tcp" | "udp";
  /** Host address; `""` for every address. */
  hostIp: string;
  /** Host port. */
  hostPort: number;
  /** Port inside the container. */
  containerPort: number;
}

function badSpec(raw: string, why: string): never {
  throw new InvalidArgumentError(`Invalid port publish spec "${raw}": ${why}`);
}

function parsePortRange(text: string, raw: string, what: string): [number, number] {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(text);
  if (!m) badSpec(raw, `invalid ${what} "${text}"`);
  const a = Number(m[1]);
  const b = m[2] === undefined ? a : Number(m[2]);
  const min = what === "host port" ? 0 : 1;
  if (a < min || a > 65535 || b < min || b > 65535) {
    badSpec(raw, `invalid ${what} "${text}": ports are 1 to 65535`);
  }
  if (b < a) badSpec(raw, `invalid ${what} range "${text}": end is before start`);
  return [a, b];
}

/**
 * Parses one `-p` value into bindings, as Docker does:
 * `80`, `8080:80`, `127.0.0.1:8080:80`, `127.0.0.1::80`, `8000-8001:80-81`, `8000-8010:80`,
 * each with an optional `/tcp` or `/udp`. Throws InvalidArgumentError naming the spec.
 *
 * @example
 * ```ts
 * import { parsePublish } from "./ports.ts";
 * const [p] = parsePublish("127.0.0.1:8080:80/udp");
 * console.assert(p.hostIp === "127.0.0.1" && p.hostPort === 8080 && p.proto === "udp");
 * ```
 */
export function parsePublish(raw: string): PortSpec[] {
  let rest = raw.trim();
  let proto: "tcp" | "udp" = "tcp";
  const slash = rest.lastIndexOf("/");
  if (slash >= 0) {
    const p = rest.slice(slash + 1).toLowerCase();
    if (p !== "tcp" && p !== "udp") badSpec(raw, `invalid protocol "${p}": use tcp or udp`);
    proto = p;
    rest = rest.slice(0, slash);
  }
  // The address may be bracketed (IPv6 form); only IPv4 is supported.
  let hostIp = "";
  let hostPart = "";
  let containerPart: string;
  const bracket = /^\[([^\]]*)\]:(.*)$/.exec(rest);
  if (bracket) {
    hostIp = bracket[1];
    const parts = bracket[2].split(":");
    if (parts.length !== 2) badSpec(raw, "expected [ip:][hostPort:]containerPort");
    [hostPart, containerPart] = parts;
  } else {
    const parts = rest.split(":");
    if (parts.length === 1) containerPart = parts[0];
    else if (parts.length === 2) [hostPart, containerPart] = parts;
    else if (parts.length === 3) [hostIp, hostPart, containerPart] = parts;
    else badSpec(raw, "expected [ip:][hostPort:]containerPort");
  }
  if (containerPart === "") badSpec(raw, "no container port");
  if (hostIp !== "") {
    try {
      ipToInt(hostIp);
    } catch {
      badSpec(raw, `invalid host IP "${hostIp}": only IPv4 addresses are supported`);
    }
    if (hostIp === "0.0.0.0") hostIp = "";
  }
  const [c0, c1] = parsePortRange(containerPart, raw, "container port");
  const [h0, h1] = hostPart === "" ? [0, 0] : parsePortRange(hostPart, raw, "host port");
  const cCount = c1 - c0 + 1;
  const hCount = h1 - h0 + 1;
  if (hostPart !== "" && h0 === 0 && h1 !== 0) badSpec(raw, "invalid host port range");
  const out: PortSpec[] = [];
  if (hostPart === "" || (h0 === 0 && h1 === 0)) {
    for (let c = c0; c <= c1; c++) {
      out.push({ proto, hostIp, hostPort: 0, hostPortEnd: 0, containerPort: c });
    }
  } else if (cCount === hCount) {
    for (let i = 0; i < cCount; i++) {
      out.push({ proto, hostIp, hostPort: h0 + i, hostPortEnd: h0 + i, containerPort: c0 + i });
    }
  } else if (cCount === 1) {
    // One container port, a host range: any free port of the range.
    out.push({ proto, hostIp, hostPort: h0, hostPortEnd: h1, containerPort: c0 });
  } else {
    badSpec(raw, `host range ${h0}-${h1} and container range ${c0}-${c1} differ in size`);
  }
  return out;
}

/**
 * The `-P` bindings: every port the image (or `--expose`) exposes, to a random host port.
 * Keys are Docker's `"80/tcp"` form.
 */
export function publishAllSpecs(exposed: Iterable<string>): PortSpec[] {
  const out: PortSpec[] = [];
  for (const key of exposed) {
    const m = /^(\d{1,5})(?:-(\d{1,5}))?(?:\/(tcp|udp|sctp))?$/i.exec(key.trim());
    if (!m) throw new InvalidArgumentError(`Invalid exposed port "${key}"`);
    const proto = (m[3] ?? "tcp").toLowerCase();
    if (proto !== "tcp" && proto !== "udp") continue; // sctp: not published here
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    for (let c = a; c <= b; c++) {
      out.push({ proto, hostIp: "", hostPort: 0, hostPortEnd: 0, containerPort: c });
    }
  }
  return out;
}

/** Docker's port key: `80/tcp`. */
export function portKey(containerPort: number, proto: string): string {
  return `${containerPort}/${proto}`;
}

/** `HostConfig.PortBindings` of the requested specs (host port `""` when random). */
export function portBindingsOf(
  specs: readonly PortSpec[],
): Record<string, { HostIp: string; HostPort: string }[]> {
  const out: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const s of specs) {
    const hostPort = s.hostPort === 0
      ? ""
      : s.hostPortEnd !== s.hostPort
      ? `${s.hostPort}-${s.hostPortEnd}`
      : String(s.hostPort);
    (out[portKey(s.containerPort, s.proto)] ??= []).push({ HostIp: s.hostIp, HostPort: hostPort });
  }
  return out;
}

/**
 * `NetworkSettings.Ports`: every exposed or published port; bound ones list their host side
 * (`0.0.0.0` for every address, as Docker shows), unbound exposed ones are `null`.
 */
export function networkPortsOf(
  bindings: readonly PortBinding[],
  exposed: Iterable<string> = [],
): Record<string, { HostIp: string; HostPort: string }[] | null> {
  const out: Record<string, { HostIp: string; HostPort: string }[] | null> = {};
  for (const key of exposed) {
    const k = key.includes("/") ? key : `${key}/tcp`;
    out[k] ??= null;
  }
  for (const b of bindings) {
    const k = portKey(b.containerPort, b.proto);
    const list = out[k] ?? [];
    list.push({ HostIp: b.hostIp || "0.0.0.0", HostPort: String(b.hostPort) });
    out[k] = list;
  }
  return out;
}

/** The lines `docker port` prints: `80/tcp -> 0.0.0.0:8080`. */
export function portLines(bindings: readonly PortBinding[], filter?: string): string[] {
  let want: { port: number; proto?: string } | undefined;
  if (filter) {
    const m = /^(\d{1,5})(?:\/(tcp|udp))?$/.exec(filter.trim());
    if (!m) throw new InvalidArgumentError(`Invalid port "${filter}"`);
    want = { port: Number(m[1]), proto: m[2] };
  }
  return bindings
    .filter((b) => !want || (b.containerPort === want.port && (want.proto ?? "tcp") === b.proto))
    .map((b) => {
      const line = `${b.hostIp || "0.0.0.0"}:${b.hostPort}`;
      return want ? line : `${portKey(b.containerPort, b.proto)} -> ${line}`;
    });
}
