/**
 * Container networking end to end: the default `bridge` network and user-defined bridge networks
 * (records, bridges, masquerade), a container's attachments (veth pair created with its peer
 * directly in the container's namespace, address, default route, `/etc/hosts`, `/etc/resolv.conf`),
 * published ports (DNAT in docker-ts's nftables table), the embedded DNS of user networks, and
 * the removal of all of it.
 *
 * ```
 * engine.start → launcher.onSpawn(pid) → manager.attach({ containerId, pid, mode, … })
 *   per network: ensure bridge + gateway + masquerade → IPAM address → endpoint record (planned)
 *                → veth (peer "ethN" in /proc/<pid>/ns/net) → address, up, default route inside
 *   ports: choose under the store lock → endpoint record → DNAT rules
 *   hosts / resolv.conf rewritten in place (they are bind-mounted) → DNS server (user networks)
 * process exit / rm → manager.detach(containerId): rules, veths, addresses, record; idempotent
 * engine start-up → manager.reconcile(isAlive): detaches whatever dead containers left behind
 * ```
 *
 * Failure anywhere in `attach` undoes what was done (`detach`), so nothing is left half
 * configured; the endpoint record is written before each host change, so a crash in between is
 * still found and undone by `reconcile`.
 *
 * @module
 */
import * as fs from "node:fs";
import * as path from "node:path";
import {
  ConflictError,
  InvalidArgumentError,
  InvalidStateError,
  NotFoundError,
} from "../errors.ts";
import { hostsContent, readHostResolvConf } from "../spec/etc_files.ts";
import type { ExtraHost } from "../spec/run_options.ts";
import { addAddress, listAddresses } from "./addresses.ts";
import { DnsServer } from "./dns_server.ts";
import { DEFAULT_POOLS, Ipam, type PoolSpec } from "./ipam.ts";
import { contains, ipToInt, overlaps, parseCidr, type Subnet, subnetOf } from "./ipv4.ts";
import { createBridge, createVeth, deleteLink, getLink, listLinks, setLink } from "./links.ts";
import { Nat, type PortMapping } from "./nat.ts";
import { openRouteSocketIn } from "./netns.ts";
import {
  type EndpointNetwork,
  type EndpointRecord,
  type NetworkRecord,
  NetworkStore,
  pidHasOwnNetns,
} from "./network_store.ts";
import { choosePorts, networkPortsOf, type PortBinding, type PortSpec } from "./ports.ts";
import { addRoute, hostSubnets, listRoutes } from "./routes.ts";
import { NetlinkError, RouteSocket } from "./socket.ts";
import { networkModeKind } from "./container_net.ts";
import { enableIpForward, setRouteLocalnet } from "./sysctl.ts";

const EEXIST = 17;

/** Docker's network name rule. */
const NETWORK_NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** Network modes that are not networks of the store. */
const PREDEFINED = new Set(["bridge", "host", "none"]);

/** Options of {@link NetworkManager}. */
export interface NetworkManagerOptions {
  /** The engine's persistent root (network state goes under `<root>/networks`). */
  root: string;
  /** The engine's runtime root (nft lock). */
  runroot: string;
  /** Device of the default network; default `docker-ts0`. */
  defaultBridge?: string;
  /** Prefix of user networks' bridge devices (+ id hex, 15 bytes in all); default `dts-`. */
  bridgePrefix?: string;
  /** Prefix of host-side veth names; default `veth`. */
  vethPrefix?: string;
  /** nftables table; default `docker-ts`. */
  natTable?: string;
  /** Subnet pools; default Docker's. */
  pools?: readonly PoolSpec[];
  /** A fixed subnet for the default network (`--bip`-like); default the first free pool. */
  defaultSubnet?: string;
  /** Upstream resolvers of the embedded DNS; default the host's resolv.conf nameservers. */
  dnsUpstreams?: readonly string[];
  /** Port of the embedded DNS (tests); default 53. */
  dnsPort?: number;
  /** sysctl tree; default `/proc/sys`. */
  procSys?: string;
}

/** Options of `network create`. */
export interface NetworkCreateOptions {
  /** Unique name. */
  name: string;
  /** `--subnet`. */
  subnet?: string;
  /** `--gateway` (needs `subnet`). */
  gateway?: string;
  /** `--internal`. */
  internal?: boolean;
  /** `--label`. */
  labels?: Record<string, string>;
  /** `--driver`: only `bridge`. */
  driver?: string;
}

/** `docker network inspect` (`GET /networks/{id}`). */
export interface NetworkInspect {
  Name: string;
  Id: string;
  Created: string;
  Scope: string;
  Driver: string;
  EnableIPv6: boolean;
  IPAM: { Driver: string; Options: null; Config: { Subnet: string; Gateway: string }[] };
  Internal: boolean;
  Attachable: boolean;
  Ingress: boolean;
  ConfigFrom: { Network: string };
  ConfigOnly: boolean;
  Containers: Record<
    string,
    {
      Name: string;
      EndpointID: string;
      MacAddress: string;
      IPv4Address: string;
      IPv6Address: string;
    }
  >;
  Options: Record<string, string>;
  Labels: Record<string, string>;
}

/** One network a container asks for. */
export interface NetworkRequest {
  /** Network name or id (`bridge` for the default). */
  network: string;
  /** `--network-alias`es. */
  aliases?: string[];
  /** `--ip`. */
  ip?: string;
}

/** What {@link NetworkManager.attach} needs. */
export interface AttachRequest {
  /** Container id (64 hex). */
  containerId: string;
  /** Container name (without `/`). */
  name: string;
  /** The container's host name (for `/etc/hosts`). */
  hostname: string;
  /** The container's pid (its network namespace is `/proc/<pid>/ns/net`). */
  pid: number;
  /** Networks in order; the first becomes `eth0` and carries the default route. */
  networks: NetworkRequest[];
  /** Ports to publish. */
  publish?: PortSpec[];
  /** Files to rewrite (bind-mounted into the container, so rewritten in place). */
  hostsFile?: string;
  /** The container's resolv.conf; rewritten for user networks (embedded DNS). */
  resolvConfFile?: string;
  /** `--add-host` entries for `/etc/hosts`. */
  addHosts?: readonly ExtraHost[];
  /** `--dns` servers (listed after the embedded DNS on user networks). */
  dns?: readonly string[];
  /** `--dns-search`. */
  dnsSearch?: readonly string[];
  /** `--dns-option`. */
  dnsOptions?: readonly string[];
}

/** `NetworkSettings` of container inspect, Docker's shape. */
export interface NetworkSettingsView {
  Bridge: string;
  SandboxID: string;
  SandboxKey: string;
  HairpinMode: boolean;
  Ports: Record<string, { HostIp: string; HostPort: string }[] | null>;
  Gateway: string;
  IPAddress: string;
  IPPrefixLen: number;
  MacAddress: string;
  Networks: Record<string, unknown>;
}

/** What {@link NetworkManager.reconcile} did. */
export interface ReconcileReport {
  /** Containers whose leftovers were removed. */
  detached: string[];
  /** Addresses released that no endpoint record held. */
  releasedAddresses: number;
}

function randomHex(bytes: number): string {
  return [...crypto.getRandomValues(new Uint8Array(bytes))].map((b) =>
    b.toString(16).padStart(2, "0")
  ).join("");
}

function errno(err: unknown): number | undefined {
  return err instanceof NetlinkError ? err.errno : undefined;
}

/** The container networking service. One per engine; safe to use from several processes. */
export class NetworkManager {
  readonly store: NetworkStore;
  readonly ipam: Ipam;
  readonly nat: Nat;
  readonly #opts: NetworkManagerOptions;
  readonly #infra = new Map<string, Promise<void>>();
  readonly #dns = new Map<string, { server: Promise<DnsServer>; refs: Set<string> }>();
  #ipForwardWasOff?: boolean;
  #endpointCache?: { key: string; records: EndpointRecord[] };

  /** Nothing on the host changes until a network is used. */
  constructor(opts: NetworkManagerOptions) {
    this.#opts = opts;
    this.store = new NetworkStore(opts.root);
    this.ipam = new Ipam({ root: this.store.ipamDir });
    this.nat = new Nat({ table: opts.natTable, lockDir: opts.runroot });
  }

  /** Whether this manager turned IPv4 forwarding on (it was off before). */
  get ipForwardChanged(): boolean {
    return this.#ipForwardWasOff === true;
  }

  // -------------------------------------------------------------------------------------------
  // Networks

  /** The default `bridge` network, created (record and address pool) on first use. */
  ensureDefault(): Promise<NetworkRecord> {
    const found = this.store.find("bridge");
    if (found) return Promise.resolve(found);
    return this.store.locked(() => {
      const again = this.store.find("bridge");
      if (again) return again;
      const id = randomHex(32);
      const bridge = this.#opts.defaultBridge ?? "docker-ts0";
      // As dockerd with an existing docker0: a bridge that already has an address keeps it.
      // Choosing a fresh pool instead would stack one more subnet (and masquerade) on the shared
      // device for every new root, and those are never removed.
      const pool = this.#addPool(
        id,
        this.#opts.defaultSubnet !== undefined
          ? { subnet: this.#opts.defaultSubnet }
          : (existingBridgeSubnet(bridge) ?? {}),
        bridge,
      );
      const rec: NetworkRecord = {
        id,
        name: "bridge",
        driver: "bridge",
        created: new Date().toISOString(),
        subnet: pool.subnet,
        gateway: pool.gateway,
        bridge,
        internal: false,
        labels: {},
        isDefault: true,
      };
      try {
        this.store.putNetwork(rec);
      } catch (err) {
        this.ipam.removeNetwork(id, { force: true });
        throw err;
      }
      return rec;
    });
  }

  #addPool(
    id: string,
    o: { subnet?: string; gateway?: string },
    device: string,
  ): { subnet: string; gateway: string } {
    let hostRoutes: string[] = [];
    if (o.subnet === undefined) {
      using sock = RouteSocket.open();
      // Our own bridges' routes are networks the IPAM knows already; skip nothing else.
      hostRoutes = hostSubnets(sock);
    } else {
      const want = parseCidr(o.subnet);
      // Named here: the IPAM, which checks this too, knows networks by id only.
      const mine = this.store.networks().find((n) => overlaps(parseCidr(n.subnet), want));
      if (mine) {
        throw new ConflictError(
          `Cannot use subnet "${o.subnet}": it overlaps "${mine.subnet}" of network "${mine.name}"`,
        );
      }
      // A given subnet that the host already routes elsewhere would put the host's own
      // addresses (its gateway, say) behind the new bridge: refused before anything changes.
      const clash = foreignRouteOverlapping(want, device);
      if (clash) {
        throw new ConflictError(
          `Cannot use subnet "${o.subnet}": it overlaps the host's route "${clash.dst}" on "${clash.dev}"`,
        );
      }
    }
    return this.ipam.addNetwork(id, {
      subnet: o.subnet,
      gateway: o.gateway,
      hostRoutes,
      pools: this.#opts.pools ?? DEFAULT_POOLS,
    });
  }

  /**
   * `network create`: a record, an address pool (given or chosen), the bridge with its gateway
   * and, unless internal, the masquerade. All or nothing.
   */
  async createNetwork(o: NetworkCreateOptions): Promise<NetworkRecord> {
    if (o.driver !== undefined && o.driver !== "bridge") {
      throw new InvalidArgumentError(
        `Invalid network driver "${o.driver}": only "bridge" is supported`,
      );
    }
    if (!NETWORK_NAME_RE.test(o.name)) {
      throw new InvalidArgumentError(
        `Invalid network name "${o.name}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`,
      );
    }
    if (o.gateway !== undefined && o.subnet === undefined) {
      throw new InvalidArgumentError(`Invalid gateway "${o.gateway}": it needs a --subnet`);
    }
    if (o.subnet !== undefined) parseCidr(o.subnet);
    const rec = await this.store.locked(() => {
      if (PREDEFINED.has(o.name) || this.store.find(o.name)?.name === o.name) {
        throw new ConflictError(`Network with name "${o.name}" already exists`);
      }
      const id = randomHex(32);
      const prefix = this.#opts.bridgePrefix ?? "dts-";
      const bridge = `${prefix}${id.slice(0, 15 - prefix.length)}`;
      const pool = this.#addPool(id, { subnet: o.subnet, gateway: o.gateway }, bridge);
      const r: NetworkRecord = {
        id,
        name: o.name,
        driver: "bridge",
        created: new Date().toISOString(),
        subnet: pool.subnet,
        gateway: pool.gateway,
        bridge,
        internal: o.internal ?? false,
        labels: o.labels ?? {},
        isDefault: false,
      };
      try {
        this.store.putNetwork(r);
      } catch (err) {
        this.ipam.removeNetwork(id, { force: true });
        throw err;
      }
      return r;
    });
    try {
      await this.#ensureInfra(rec);
    } catch (err) {
      await this.#teardownNetwork(rec).catch(() => {});
      throw err;
    }
    return rec;
  }

  /** Resolves a network reference; NotFoundError (Docker's text) when unknown. */
  async getNetwork(ref: string): Promise<NetworkRecord> {
    if (ref === "bridge" || ref === "default") return await this.ensureDefault();
    const found = this.store.find(ref);
    if (!found) throw new NotFoundError(`Network "${ref}" not found`);
    return found;
  }

  /**
   * Checks a `--ip` for network `ref` before anything is created (Docker validates endpoint
   * settings at create): an IPv4 host address of the network's subnet, not its gateway. Whether
   * the address is free is decided at attach (a running container may release it meanwhile).
   */
  async checkRequestedIp(ref: string, ip: string): Promise<void> {
    const n = await this.getNetwork(ref);
    if (n.isDefault) {
      throw new InvalidArgumentError(
        "user specified IP address is supported on user defined networks only",
      );
    }
    let want: number;
    try {
      want = ipToInt(ip);
    } catch {
      throw new InvalidArgumentError(`Invalid --ip "${ip}": not an IPv4 address`);
    }
    const subnet = parseCidr(n.subnet);
    if (!contains(subnet, want)) {
      throw new InvalidArgumentError(
        `Invalid --ip "${ip}": it is not in subnet "${n.subnet}" of network "${n.name}"`,
      );
    }
    const what = want === ipToInt(n.gateway)
      ? "gateway"
      : want === subnet.network
      ? "network"
      : want === subnet.broadcast
      ? "broadcast"
      : undefined;
    if (what) {
      throw new InvalidArgumentError(
        `Invalid --ip "${ip}": it is the ${what} address of network "${n.name}"`,
      );
    }
  }

  /** Every network (the default one created on demand), plus Docker's `host` and `none`. */
  async listNetworks(): Promise<NetworkInspect[]> {
    await this.ensureDefault();
    const out = this.store.networks().map((n) => this.#inspectOf(n));
    out.push(this.#pseudo("host"), this.#pseudo("none"));
    return out;
  }

  #pseudo(name: "host" | "none"): NetworkInspect {
    // Stable ids derived from the root, so `ls` shows the same each time.
    const seed = [...new TextEncoder().encode(`${this.#opts.root}/${name}`)];
    let h = 0x811c9dc5;
    const hex: string[] = [];
    for (let i = 0; i < 8; i++) {
      for (const b of seed) h = Math.imul(h ^ b ^ i, 0x01000193) >>> 0;
      hex.push(h.toString(16).padStart(8, "0"));
    }
    return {
      Name: name,
      Id: hex.join(""),
      Created: new Date(0).toISOString(),
      Scope: "local",
      Driver: name === "host" ? "host" : "null",
      EnableIPv6: false,
      IPAM: { Driver: "default", Options: null, Config: [] },
      Internal: false,
      Attachable: false,
      Ingress: false,
      ConfigFrom: { Network: "" },
      ConfigOnly: false,
      Containers: {},
      Options: {},
      Labels: {},
    };
  }

  /** `network inspect`. */
  async inspectNetwork(ref: string): Promise<NetworkInspect> {
    if (ref === "host" || ref === "none") return this.#pseudo(ref);
    return this.#inspectOf(await this.getNetwork(ref));
  }

  #inspectOf(n: NetworkRecord): NetworkInspect {
    const containers: NetworkInspect["Containers"] = {};
    for (const e of this.store.endpoints()) {
      const a = e.networks.find((x) => x.networkId === n.id);
      if (!a) continue;
      containers[e.containerId] = {
        Name: e.name,
        EndpointID: a.endpointId,
        MacAddress: a.mac,
        IPv4Address: `${a.ip}/${a.prefixLen}`,
        IPv6Address: "",
      };
    }
    return {
      Name: n.name,
      Id: n.id,
      Created: n.created,
      Scope: "local",
      Driver: "bridge",
      EnableIPv6: false,
      IPAM: {
        Driver: "default",
        Options: null,
        Config: [{ Subnet: n.subnet, Gateway: n.gateway }],
      },
      Internal: n.internal,
      Attachable: false,
      Ingress: false,
      ConfigFrom: { Network: "" },
      ConfigOnly: false,
      Containers: containers,
      Options: n.isDefault
        ? {
          "com.docker.network.bridge.default_bridge": "true",
          "com.docker.network.bridge.enable_ip_masquerade": "true",
          "com.docker.network.bridge.name": n.bridge,
        }
        : { "com.docker.network.bridge.name": n.bridge },
      Labels: n.labels,
    };
  }

  /**
   * `network rm`: refuses predefined networks and networks with attached containers (or that
   * `inUse` reports, e.g. configured on a stopped container); then removes bridge, rules, pool,
   * record.
   */
  async removeNetwork(
    ref: string,
    inUse?: (net: NetworkRecord) => string | undefined,
  ): Promise<void> {
    if (PREDEFINED.has(ref)) {
      throw new InvalidStateError(`"${ref}" is a pre-defined network and cannot be removed`);
    }
    const n = this.store.find(ref);
    if (!n) throw new NotFoundError(`Network "${ref}" not found`);
    if (n.isDefault) {
      throw new InvalidStateError(`"bridge" is a pre-defined network and cannot be removed`);
    }
    await this.reapStale();
    await this.store.locked(async () => {
      const users = this.store.endpoints().filter((e) =>
        e.networks.some((a) => a.networkId === n.id)
      );
      if (users.length > 0) {
        throw new ConflictError(
          `Cannot remove network "${n.name}": it has active endpoints (${
            users.map((u) => u.name).join(", ")
          })`,
        );
      }
      const user = inUse?.(n);
      if (user) {
        throw new ConflictError(
          `Cannot remove network "${n.name}": container "${user}" is connected to it`,
        );
      }
      await this.#teardownNetwork(n);
    });
  }

  /** Removes every trace of a network: DNS server, masquerade, bridge, pool, record. */
  async #teardownNetwork(n: NetworkRecord): Promise<void> {
    const d = this.#dns.get(n.id);
    if (d) {
      this.#dns.delete(n.id);
      await (await d.server.catch(() => undefined))?.close();
    }
    await this.nat.removeMasquerade({ subnet: n.subnet, bridge: n.bridge });
    {
      using sock = RouteSocket.open();
      deleteLink(sock, n.bridge);
    }
    this.#infra.delete(n.id);
    this.ipam.removeNetwork(n.id, { force: true });
    this.store.deleteNetwork(n.name);
  }

  /** `network prune`: removes every user network nothing uses; resolves to their names. */
  async pruneNetworks(inUse?: (net: NetworkRecord) => string | undefined): Promise<string[]> {
    const removed: string[] = [];
    for (const n of this.store.networks()) {
      if (n.isDefault) continue;
      try {
        await this.removeNetwork(n.id, inUse);
        removed.push(n.name);
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
      }
    }
    return removed;
  }

  /**
   * Makes a network usable on the host: bridge with its gateway address, up; route_localnet on
   * it (127.0.0.1 DNAT); IPv4 forwarding; masquerade unless internal. Idempotent and safe against
   * other processes doing the same (EEXIST is success).
   */
  #ensureInfra(n: NetworkRecord): Promise<void> {
    let p = this.#infra.get(n.id);
    if (!p) {
      p = this.#setupInfra(n);
      this.#infra.set(n.id, p);
      p.catch(() => this.#infra.delete(n.id));
    }
    return p;
  }

  async #setupInfra(n: NetworkRecord): Promise<void> {
    const subnet = parseCidr(n.subnet);
    {
      using sock = RouteSocket.open();
      if (!getLink(sock, n.bridge)) {
        try {
          createBridge(sock, n.bridge);
        } catch (err) {
          if (errno(err) !== EEXIST) throw err;
        }
      }
      const link = getLink(sock, n.bridge);
      if (!link) throw new NotFoundError(`Cannot find bridge "${n.bridge}" after creating it`);
      if (!listAddresses(sock, link.index).some((a) => a.address === n.gateway)) {
        try {
          addAddress(sock, link.index, { address: n.gateway, prefixLen: subnet.prefixLen });
        } catch (err) {
          if (errno(err) !== EEXIST) throw err;
        }
      }
      if (!link.up) setLink(sock, link.index, { up: true });
    }
    setRouteLocalnet(n.bridge, true, { procSys: this.#opts.procSys });
    if (!n.internal) {
      // Docker turns forwarding on at daemon start; containers' traffic is routed through us.
      if (enableIpForward({ procSys: this.#opts.procSys })) this.#ipForwardWasOff = true;
      await this.nat.addMasquerade({ subnet: n.subnet, bridge: n.bridge });
    }
  }

  // -------------------------------------------------------------------------------------------
  // Containers

  /**
   * Connects a started container (its init waiting on the start gate, or running) to its
   * networks and publishes its ports. On failure everything done is undone and the error
   * rethrown. Resolves to the endpoint record.
   */
  async attach(req: AttachRequest): Promise<EndpointRecord> {
    if (req.networks.length === 0) throw new InvalidArgumentError("No network to attach to");
    try {
      return await this.#attach(req);
    } catch (err) {
      await this.detach(req.containerId).catch(() => {});
      throw err;
    }
  }

  async #attach(req: AttachRequest): Promise<EndpointRecord> {
    // What a killed engine left (its container gone) would otherwise hold host ports and names.
    await this.reapStale(req.containerId);
    const nets: NetworkRecord[] = [];
    for (const r of req.networks) {
      const n = await this.getNetwork(r.network);
      if (nets.some((x) => x.id === n.id)) continue;
      if (r.ip !== undefined && n.isDefault) {
        throw new InvalidArgumentError(
          "Invalid --ip: user specified IP address is supported on user defined networks only",
        );
      }
      nets.push(n);
    }
    await Promise.all(nets.map((n) => this.#ensureInfra(n)));
    const rec: EndpointRecord = {
      containerId: req.containerId,
      name: req.name,
      pid: req.pid,
      networks: [],
      ports: [],
    };
    const nsPath = `/proc/${req.pid}/ns/net`;
    const nsFd = fs.openSync(nsPath, "r");
    try {
      using inside = await openRouteSocketIn(nsPath);
      using host = RouteSocket.open();
      setLink(inside, "lo", { up: true });
      let routed = false;
      for (const [i, n] of nets.entries()) {
        const r = req.networks.find((x) => x.network === n.name || x.network === n.id) ??
          req.networks[i];
        const a = await this.#plugIn(host, inside, nsFd, rec, n, r, {
          ifname: `eth${i}`,
          index: i,
          defaultRoute: !routed && !n.internal,
          name: req.name,
          hostname: req.hostname,
        });
        if (a.gateway) routed = true;
      }
      const specs = nets.some((n) => !n.internal) ? (req.publish ?? []) : [];
      if (specs.length > 0) await this.#publish(rec, specs);
    } finally {
      fs.closeSync(nsFd);
    }
    this.#writeEtc(req, rec, nets);
    for (const n of nets) if (!n.isDefault) await this.#dnsRef(n, req.containerId);
    return rec;
  }

  /** Adds one network to a record: address, veth, inside config. Writes the record first. */
  async #plugIn(
    host: RouteSocket,
    inside: RouteSocket,
    nsFd: number,
    rec: EndpointRecord,
    n: NetworkRecord,
    r: NetworkRequest,
    o: { ifname: string; index: number; defaultRoute: boolean; name: string; hostname: string },
  ): Promise<EndpointNetwork> {
    const subnet = parseCidr(n.subnet);
    if (r.ip !== undefined) await this.checkRequestedIp(n.id, r.ip);
    let ip: string;
    try {
      ip = this.ipam.allocate(n.id, { owner: rec.containerId, requested: r.ip });
    } catch (err) {
      // The IPAM knows networks by id only; say which network the user meant
      // (the cause is left out: it repeats this line with the id).
      if (err instanceof ConflictError && r.ip !== undefined) {
        throw new ConflictError(`Address "${r.ip}" is already in use on network "${n.name}"`);
      }
      throw err;
    }
    const vp = this.#opts.vethPrefix ?? "veth";
    const a: EndpointNetwork = {
      networkId: n.id,
      networkName: n.name,
      ip,
      prefixLen: subnet.prefixLen,
      gateway: o.defaultRoute ? n.gateway : "",
      ifname: o.ifname,
      hostVeth: `${vp}${rec.containerId.slice(0, 14 - vp.length)}${o.index % 10}`,
      mac: "",
      dnsNames: n.isDefault ? [] : [
        ...new Set(
          [o.name, rec.containerId.slice(0, 12), o.hostname, ...(r.aliases ?? [])]
            .filter((x) => x !== "").map((x) => x.toLowerCase()),
        ),
      ],
      aliases: r.aliases ?? [],
      endpointId: randomHex(32),
    };
    rec.networks.push(a);
    // Planned names on disk before the kernel has them: a crash from here on is reconcilable.
    await this.store.locked(() => this.store.putEndpoint(rec));
    createVeth(host, { name: a.hostVeth, peer: a.ifname, peerNetnsFd: nsFd });
    setLink(host, a.hostVeth, { master: n.bridge, up: true });
    setHairpin(a.hostVeth);
    setLink(inside, a.ifname, { up: true });
    addAddress(inside, a.ifname, { address: ip, prefixLen: subnet.prefixLen });
    if (o.defaultRoute) addRoute(inside, { gateway: n.gateway, link: a.ifname });
    a.mac = getLink(inside, a.ifname)?.mac ?? "";
    await this.store.locked(() => this.store.putEndpoint(rec));
    return a;
  }

  /** Chooses host ports under the store lock (no two containers get one), then adds DNAT rules. */
  async #publish(rec: EndpointRecord, specs: PortSpec[]): Promise<void> {
    const target = rec.networks.find((a) => a.gateway !== "") ?? rec.networks[0];
    await this.store.locked(async () => {
      const taken = this.store.endpoints().filter((e) => e.containerId !== rec.containerId)
        .flatMap((e) => e.ports);
      rec.ports = await choosePorts(specs, { taken });
      this.store.putEndpoint(rec);
    });
    for (const b of rec.ports) await this.nat.addPortMapping(mappingOf(b, target.ip));
  }

  #writeEtc(req: AttachRequest, rec: EndpointRecord, nets: NetworkRecord[]): void {
    const first = rec.networks[0];
    if (req.hostsFile) {
      // In place: the file is bind-mounted into the container (a rename would not be seen).
      fs.writeFileSync(
        req.hostsFile,
        hostsContent({ hostname: req.hostname, extraHosts: req.addHosts, ip: first?.ip }),
      );
    }
    const user = nets.find((n) => !n.isDefault);
    if (req.resolvConfFile && user) {
      const host = readHostResolvConf();
      const search = req.dnsSearch?.length
        ? req.dnsSearch.filter((s) => s !== ".")
        : (/^\s*(?:search|domain)\s+(.*)$/m.exec(host)?.[1]?.trim().split(/\s+/) ?? []);
      const lines = [
        `nameserver ${user.gateway}`,
        ...(req.dns ?? []).map((d) => `nameserver ${d}`),
      ];
      if (search.length) lines.unshift(`search ${search.join(" ")}`);
      lines.push(`options ${req.dnsOptions?.length ? req.dnsOptions.join(" ") : "ndots:0"}`);
      fs.writeFileSync(req.resolvConfFile, lines.join("\n") + "\n");
    }
  }

  /**
   * Removes everything a container holds: DNAT rules, veths (the namespace's end goes with its
   * pair), addresses, DNS names, the endpoint record. Idempotent; safe on partial state.
   */
  async detach(containerId: string): Promise<void> {
    const rec = this.store.endpoint(containerId);
    const errors: unknown[] = [];
    if (rec) {
      const target = rec.networks.find((a) => a.gateway !== "") ?? rec.networks[0];
      for (const b of rec.ports) {
        if (!target) break;
        await this.nat.removePortMapping(mappingOf(b, target.ip)).catch((e) => errors.push(e));
      }
      {
        using sock = RouteSocket.open();
        for (const a of rec.networks) {
          try {
            deleteLink(sock, a.hostVeth);
          } catch (err) {
            errors.push(err);
          }
        }
      }
      for (const a of rec.networks) await this.#dnsUnref(a.networkId, containerId);
    }
    this.ipam.releaseOwner(containerId);
    if (rec) await this.store.locked(() => this.store.deleteEndpoint(containerId));
    if (errors.length > 0) {
      throw new AggregateError(errors, `Cannot fully detach container "${containerId}"`);
    }
  }

  /**
   * Detaches endpoint records whose container is gone: its pid no longer exists, or no longer
   * has a network namespace of its own (a zombie, or the pid was reused by a host process).
   * Engines killed with SIGKILL leave such records (and their DNAT rules, addresses and DNS
   * names) behind; this runs before each attach and network removal so the next command heals
   * them without a daemon restart. `except` is the caller's own container. Resolves to the ids.
   */
  async reapStale(except?: string): Promise<string[]> {
    const reaped: string[] = [];
    for (const e of this.store.endpoints()) {
      if (e.containerId === except || pidHasOwnNetns(e.pid)) continue;
      await this.detach(e.containerId).catch(() => {});
      reaped.push(e.containerId);
    }
    return reaped;
  }

  /** Connects a running container to one more network (`network connect`). */
  async connect(
    ref: string,
    c: { containerId: string; name: string; hostname: string; pid: number },
    r: Omit<NetworkRequest, "network"> = {},
  ): Promise<void> {
    const n = await this.getNetwork(ref);
    const rec = this.store.endpoint(c.containerId);
    if (!rec) {
      throw new InvalidStateError(
        `Container "${c.name}" has no network namespace of its own to connect`,
      );
    }
    if (rec.networks.some((a) => a.networkId === n.id)) {
      throw new ConflictError(`Container "${c.name}" is already connected to network "${n.name}"`);
    }
    await this.#ensureInfra(n);
    const nsPath = `/proc/${c.pid}/ns/net`;
    const nsFd = fs.openSync(nsPath, "r");
    const before = rec.networks.length;
    try {
      using inside = await openRouteSocketIn(nsPath);
      using host = RouteSocket.open();
      const used = new Set(rec.networks.map((a) => a.ifname));
      let i = 0;
      while (used.has(`eth${i}`)) i++;
      await this.#plugIn(host, inside, nsFd, rec, n, { network: ref, ...r }, {
        ifname: `eth${i}`,
        index: i,
        defaultRoute: false,
        name: c.name,
        hostname: c.hostname,
      });
    } catch (err) {
      await this.#unplug(rec, rec.networks.slice(before)).catch(() => {});
      throw err;
    } finally {
      fs.closeSync(nsFd);
    }
    if (!n.isDefault) await this.#dnsRef(n, c.containerId);
  }

  /** Disconnects a running container from one network (`network disconnect`). */
  async disconnect(ref: string, containerId: string): Promise<void> {
    const n = await this.getNetwork(ref);
    const rec = this.store.endpoint(containerId);
    const a = rec?.networks.find((x) => x.networkId === n.id);
    if (!rec || !a) {
      throw new NotFoundError(`Container "${containerId}" is not connected to network "${n.name}"`);
    }
    await this.#unplug(rec, [a]);
  }

  async #unplug(rec: EndpointRecord, gone: EndpointNetwork[]): Promise<void> {
    {
      using sock = RouteSocket.open();
      for (const a of gone) deleteLink(sock, a.hostVeth);
    }
    for (const a of gone) {
      this.ipam.release(a.networkId, a.ip);
      await this.#dnsUnref(a.networkId, rec.containerId);
    }
    rec.networks = rec.networks.filter((x) => !gone.includes(x));
    await this.store.locked(() => this.store.putEndpoint(rec));
  }

  /** A container's endpoint record (undefined when it holds nothing). */
  endpoint(containerId: string): EndpointRecord | undefined {
    return this.store.endpoint(containerId);
  }

  /**
   * `NetworkSettings` for container inspect: live values while attached; for a stopped one the
   * configured networks with empty addresses, as Docker shows.
   */
  settings(
    containerId: string,
    o: { mode: string; exposed?: Iterable<string>; aliases?: string[] },
  ): NetworkSettingsView {
    // A record whose container is gone (its engine was killed) is stale: show it as stopped.
    const found = this.store.endpoint(containerId);
    const rec = found && pidHasOwnNetns(found.pid) ? found : undefined;
    const view: NetworkSettingsView = {
      Bridge: "",
      SandboxID: "",
      SandboxKey: rec ? `/proc/${rec.pid}/ns/net` : "",
      HairpinMode: false,
      Ports: networkPortsOf(rec?.ports ?? [], o.exposed ?? []),
      Gateway: "",
      IPAddress: "",
      IPPrefixLen: 0,
      MacAddress: "",
      Networks: {},
    };
    const mode = networkModeKind(o.mode);
    if (mode.kind === "host" || mode.kind === "none") {
      view.Networks[mode.kind] = endpointView(undefined, "", o.aliases);
      return view;
    }
    if (mode.kind === "container") return view;
    for (const a of rec?.networks ?? []) {
      view.Networks[a.networkName] = endpointView(a, a.networkId, a.aliases);
      if (a.networkName === "bridge") {
        view.Gateway = a.gateway;
        view.IPAddress = a.ip;
        view.IPPrefixLen = a.prefixLen;
        view.MacAddress = a.mac;
      }
    }
    if (!rec) {
      const n = mode.name === "bridge" ? this.store.find("bridge") : this.store.find(mode.name);
      view.Networks[mode.name] = endpointView(undefined, n?.id ?? "", o.aliases);
    }
    return view;
  }

  /**
   * Undoes what dead containers left (engine or daemon start-up): endpoint records whose
   * container `isAlive` rejects are detached; addresses held by owners with no record and not
   * alive are released; DNS servers restart for live containers on user networks.
   */
  async reconcile(isAlive: (containerId: string) => boolean): Promise<ReconcileReport> {
    const detached: string[] = [];
    const live = new Set<string>();
    for (const e of this.store.endpoints()) {
      if (isAlive(e.containerId)) {
        live.add(e.containerId);
        for (const a of e.networks) {
          const n = this.store.find(a.networkId);
          if (n && !n.isDefault) await this.#dnsRef(n, e.containerId).catch(() => {});
        }
        continue;
      }
      await this.detach(e.containerId).catch(() => {});
      detached.push(e.containerId);
    }
    const releasedAddresses = this.ipam.prune((owner) =>
      owner === "" || live.has(owner) || isAlive(owner)
    );
    return { detached, releasedAddresses };
  }

  /** Stops this process's DNS servers (engine shutdown); attachments stay. */
  async close(): Promise<void> {
    const all = [...this.#dns.values()];
    this.#dns.clear();
    for (const d of all) await (await d.server.catch(() => undefined))?.close();
  }

  // -------------------------------------------------------------------------------------------
  // Embedded DNS

  async #dnsRef(n: NetworkRecord, containerId: string): Promise<void> {
    let d = this.#dns.get(n.id);
    if (!d) {
      const server = DnsServer.start({
        address: n.gateway,
        port: this.#opts.dnsPort ?? 53,
        lookup: (name) => this.#lookup(n.id, name),
        // An internal network reaches nothing outside, names included (as Docker's embedded DNS).
        upstreams: n.internal ? [] : this.#opts.dnsUpstreams ?? hostNameservers(),
      });
      d = { server, refs: new Set() };
      this.#dns.set(n.id, d);
      server.catch(() => this.#dns.delete(n.id));
    }
    d.refs.add(containerId);
    await d.server;
  }

  async #dnsUnref(networkId: string, containerId: string): Promise<void> {
    const d = this.#dns.get(networkId);
    if (!d) return;
    d.refs.delete(containerId);
    if (d.refs.size > 0) return;
    this.#dns.delete(networkId);
    await (await d.server.catch(() => undefined))?.close();
  }

  /** Addresses of `name` on network `networkId`, from the endpoint records (cached by mtime). */
  #lookup(networkId: string, name: string): string[] {
    const bare = name.replace(/\.$/, "");
    let key = "";
    try {
      const st = fs.statSync(this.store.endpointsDir, { bigint: true });
      key = `${st.mtimeNs}`;
    } catch {
      return [];
    }
    if (this.#endpointCache?.key !== key) {
      this.#endpointCache = { key, records: this.store.endpoints() };
    }
    const out: string[] = [];
    for (const e of this.#endpointCache.records) {
      for (const a of e.networks) {
        if (a.networkId === networkId && a.dnsNames.includes(bare)) out.push(a.ip);
      }
    }
    return out;
  }
}

function mappingOf(b: PortBinding, containerIp: string): PortMapping {
  return {
    proto: b.proto,
    hostIp: b.hostIp,
    hostPort: b.hostPort,
    containerIp,
    containerPort: b.containerPort,
  };
}

function endpointView(
  a: EndpointNetwork | undefined,
  networkId: string,
  aliases?: string[],
): Record<string, unknown> {
  return {
    IPAMConfig: null,
    Links: null,
    Aliases: aliases?.length ? aliases : null,
    MacAddress: a?.mac ?? "",
    NetworkID: networkId,
    EndpointID: a?.endpointId ?? "",
    Gateway: a?.gateway ?? "",
    IPAddress: a?.ip ?? "",
    IPPrefixLen: a?.prefixLen ?? 0,
    IPv6Gateway: "",
    GlobalIPv6Address: "",
    GlobalIPv6PrefixLen: 0,
    DriverOpts: null,
    DNSNames: a?.dnsNames.length ? a.dnsNames : null,
  };
}

/**
 * The subnet and gateway of an existing bridge device's first IPv4 address (e.g. left by an
 * earlier root, or made by the admin); undefined when the device or an address is missing.
 */
export function existingBridgeSubnet(
  bridge: string,
): { subnet: string; gateway: string } | undefined {
  using sock = RouteSocket.open();
  const link = getLink(sock, bridge);
  if (!link) return undefined;
  const a = listAddresses(sock, link.index).find((x) => x.prefixLen > 0 && x.prefixLen <= 30);
  if (!a) return undefined;
  return { subnet: subnetOf(ipToInt(a.address), a.prefixLen).cidr, gateway: a.address };
}

/**
 * The first host route (main and other tables but `local`, unicast, not a default route) that
 * overlaps `subnet` and does not go out of `ownDevice` (the network's own bridge, whose routes
 * are its own subnet); undefined when none.
 */
export function foreignRouteOverlapping(
  subnet: Subnet,
  ownDevice: string,
): { dst: string; dev: string } | undefined {
  using sock = RouteSocket.open();
  const names = new Map(listLinks(sock).map((l) => [l.index, l.name]));
  for (const r of listRoutes(sock)) {
    if (r.table === 255 || r.type !== 1 || r.dst.endsWith("/0")) continue;
    const dev = r.oif === undefined ? "" : names.get(r.oif) ?? "";
    if (dev === ownDevice) continue;
    if (overlaps(parseCidr(r.dst, false), subnet)) return { dst: r.dst, dev };
  }
  return undefined;
}

/**
 * Turns on hairpin mode of a bridge port (as dockerd does without its userland proxy), so a
 * container reaching its own published port through the host is sent back out of the port it
 * came in on. Best effort: a kernel without the sysfs knob only loses that case.
 */
function setHairpin(port: string): void {
  try {
    fs.writeFileSync(`/sys/class/net/${port}/brport/hairpin_mode`, "1");
  } catch {
    // no brport sysfs (old kernel, or not a bridge port): hairpin traffic stays unsupported
  }
}

/** The host's nameservers (loopback ones included: the DNS server runs on the host). */
export function hostNameservers(): string[] {
  const text = readHostResolvConf();
  return [...text.matchAll(/^\s*nameserver\s+(\S+)/gm)].map((m) => m[1]).filter((ip) =>
    /^\d+\.\d+\.\d+\.\d+$/.test(ip)
  );
}

/** Path helper for tests and the engine: the directory the manager keeps its state in. */
export function networksDir(root: string): string {
  return path.join(root, "networks");
}
