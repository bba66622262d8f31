/**
 * Glue between a container's stored options and the network manager, so the engine's edits stay
 * one call each: which networks a container wants, the attach request, the exposed ports, the
 * published-port views of inspect and `ps`, and joining another container's namespace
 * (`--network container:<name|id>`).
 *
 * @module
 */
import type { OciSpec } from "../runtime/oci_spec.ts";
import type { RunOptions } from "../spec/run_options.ts";
import type { AttachRequest, NetworkManager } from "./manager.ts";
import { type EndpointRecord, pidHasOwnNetns } from "./network_store.ts";
import { portBindingsOf, type PortSpec, publishAllSpecs } from "./port_spec.ts";
import { InvalidArgumentError, NotFoundError } from "../errors.ts";

/** Parses a network mode (`--network`) into a kind and name. */
export function networkModeKind(
  mode: string,
): { kind: "none" | "host" | "container" | "bridge"; name: string } {
  if (mode === "none" || mode === "host") return { kind: mode, name: mode };
  if (mode.startsWith("container:")) return { kind: "container", name: mode.slice(10) };
  if (mode === "" || mode === "default" || mode === "bridge") {
    return { kind: "bridge", name: "bridge" };
  }
  return { kind: "bridge", name: mode };
}

/** What the glue reads of a container. */
export interface ContainerNetInfo {
  /** Container id. */
  id: string;
  /** Container name (without `/`). */
  name: string;
  /** Host name inside the container. */
  hostname: string;
  /** Stored run options (records made before networking may lack the new fields). */
  options: RunOptions;
  /** The image's `ExposedPorts`. */
  imageExposed?: Record<string, unknown> | null;
  /** The container's `/etc/hosts` source file. */
  hostsFile: string;
  /** The container's `/etc/resolv.conf` source file. */
  resolvConfFile: string;
}

/** Whether the container gets its own interfaces on a bridge network (needs `attach`). */
export function usesBridge(options: Pick<RunOptions, "network">): boolean {
  return networkModeKind(options.network ?? "bridge").kind === "bridge";
}

/** Exposed port keys (`80/tcp`): the image's, then `--expose`, then published ones. */
export function exposedKeys(info: Pick<ContainerNetInfo, "options" | "imageExposed">): string[] {
  const keys = new Set<string>(Object.keys(info.imageExposed ?? {}));
  for (const e of info.options.expose ?? []) keys.add(e);
  for (const p of info.options.publish ?? []) keys.add(`${p.containerPort}/${p.proto}`);
  return [...keys];
}

/** The bindings to publish: `-p` specs, plus every exposed port with `-P` (unless already given). */
export function publishSpecs(info: Pick<ContainerNetInfo, "options" | "imageExposed">): PortSpec[] {
  const specs = [...(info.options.publish ?? [])];
  if (info.options.publishAll) {
    const exposed = new Set<string>(Object.keys(info.imageExposed ?? {}));
    for (const e of info.options.expose ?? []) exposed.add(e);
    for (const s of publishAllSpecs(exposed)) {
      if (!specs.some((p) => p.containerPort === s.containerPort && p.proto === s.proto)) {
        specs.push(s);
      }
    }
  }
  return specs;
}

/** The attach request of a started container whose init has pid `pid`. */
export function attachRequestOf(info: ContainerNetInfo, pid: number): AttachRequest {
  const o = info.options;
  const mode = networkModeKind(o.network ?? "bridge");
  return {
    containerId: info.id,
    name: info.name,
    hostname: info.hostname,
    pid,
    networks: [{ network: mode.name, aliases: o.networkAliases ?? [], ip: o.ip }],
    publish: publishSpecs(info),
    hostsFile: info.hostsFile,
    resolvConfFile: info.resolvConfFile,
    addHosts: o.addHosts,
    dns: o.dns,
    dnsSearch: o.dnsSearch,
    dnsOptions: o.dnsOptions,
  };
}

/**
 * Checks at create time that the network a container names exists (Docker: `network X not
 * found`, exit 125) and that its `--ip` fits the network; `container:<ref>` is checked by
 * `resolveContainer`.
 */
export async function checkNetworkMode(
  options: Pick<RunOptions, "network"> & { ip?: string },
  manager: () => Promise<NetworkManager>,
  resolveContainer: (ref: string) => string,
): Promise<void> {
  const mode = networkModeKind(options.network);
  try {
    if (mode.kind === "container") resolveContainer(mode.name);
    else if (mode.kind === "bridge") await (await manager()).getNetwork(mode.name);
  } catch (err) {
    // A bad request, not a missing resource: docker's CLI reads any 404 from create as "no such
    // image" and goes to pull it (dockerd itself only fails such a container at its start).
    if (err instanceof NotFoundError) throw new InvalidArgumentError(err.message, { cause: err });
    throw err;
  }
  // A bad --ip is refused before the container exists, as Docker does (exit 125, no leftover).
  if (mode.kind === "bridge" && options.ip !== undefined) {
    await (await manager()).checkRequestedIp(mode.name, options.ip);
  }
}

/**
 * For `--network container:<ref>`: points the spec's network namespace at the target's
 * (`/proc/<pid>/ns/net`); the launcher joins a namespace that has a path.
 */
export function joinContainerNetwork(spec: OciSpec, targetPid: number): void {
  const ns = spec.linux.namespaces.find((n) => n.type === "network");
  const nsPath = `/proc/${targetPid}/ns/net`;
  if (ns) ns.path = nsPath;
  else spec.linux.namespaces.push({ type: "network", path: nsPath });
}

/** `HostConfig.PortBindings` of inspect. */
export function hostConfigPortBindings(
  options: Pick<RunOptions, "publish">,
): Record<string, { HostIp: string; HostPort: string }[]> {
  return portBindingsOf(options.publish ?? []);
}

/** `Ports` of a `ps` row (`GET /containers/json`). */
export function summaryPorts(
  rec: EndpointRecord | undefined,
): { IP?: string; PrivatePort: number; PublicPort?: number; Type: string }[] {
  // A stale record (the container died with its engine) publishes nothing any more.
  if (!rec || !pidHasOwnNetns(rec.pid)) return [];
  return rec.ports.map((b) => ({
    IP: b.hostIp || "0.0.0.0",
    PrivatePort: b.containerPort,
    PublicPort: b.hostPort,
    Type: b.proto,
  }));
}
