/**
 * Persisted network state under `<root>/networks/`:
 *
 * ```
 * networks.json          name → network record (the default `bridge` included once created)
 * endpoints/<id>.json    one container's attachments: address, veth, aliases, published ports
 * ipam/                  the IPAM's own file and lock (ipam.ts)
 * store.lock             serialises network create/remove and endpoint writes
 * ```
 *
 * Every write is atomic (temp, fsync, rename). Changes that must not interleave (a network's
 * removal against a container joining it, two containers taking the same host port) run under
 * {@link NetworkStore.locked}: an in-process queue in front of an `flock`, so concurrent callers
 * of one process wait without parking a blocking-pool thread each.
 *
 * @module
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { z } from "zod";
import { atomicWriteJsonSync } from "../util/atomic_write.ts";
import { InternalError } from "../errors.ts";
import type { PortBinding } from "./port_spec.ts";

/** A network as stored. */
export interface NetworkRecord {
  /** 64 hex characters. */
  id: string;
  /** Unique name (`bridge` for the default network). */
  name: string;
  /** Always `bridge` here. */
  driver: "bridge";
  /** RFC 3339. */
  created: string;
  /** CIDR. */
  subnet: string;
  /** The bridge's own address. */
  gateway: string;
  /** Bridge device name. */
  bridge: string;
  /** No outbound access, no default route in containers, no published ports. */
  internal: boolean;
  /** Whether the user gave the subnet/gateway (inspect shows only given values for user nets). */
  labels: Record<string, string>;
  /** The default network: no embedded DNS (as Docker's default bridge). */
  isDefault: boolean;
}

/** One container's attachment to one network. */
export interface EndpointNetwork {
  /** Network id. */
  networkId: string;
  /** Network name at attach time. */
  networkName: string;
  /** Address in the network. */
  ip: string;
  /** Prefix length of the network's subnet. */
  prefixLen: number;
  /** The network's gateway (empty for internal networks: no default route). */
  gateway: string;
  /** Interface name inside the container (`eth0`, `eth1`, …). */
  ifname: string;
  /** Host end of the veth pair. */
  hostVeth: string;
  /** MAC address of the container's interface. */
  mac: string;
  /** Names the embedded DNS answers with this address (name, short id, aliases). */
  dnsNames: string[];
  /** `--network-alias`es as given. */
  aliases: string[];
  /** Endpoint id (64 hex), as inspect shows. */
  endpointId: string;
}

/** Everything a running container holds on the host's network. */
export interface EndpointRecord {
  /** Container id. */
  containerId: string;
  /** Container name (without `/`). */
  name: string;
  /** Container pid while attached. */
  pid: number;
  /** Attachments in order (`eth0` first). */
  networks: EndpointNetwork[];
  /** Published ports in force. */
  ports: PortBinding[];
}

const portSchema = z.object({
  proto: z.enum(["tcp", "udp"]),
  hostIp: z.string(),
  hostPort: z.number(),
  containerPort: z.number(),
});

const endpointSchema = z.object({
  containerId: z.string(),
  name: z.string(),
  pid: z.number(),
  networks: z.array(z.object({
    networkId: z.string(),
    networkName: z.string(),
    ip: z.string(),
    prefixLen: z.number(),
    gateway: z.string(),
    ifname: z.string(),
    hostVeth: z.string(),
    mac: z.string(),
    dnsNames: z.array(z.string()),
    aliases: z.array(z.string()),
    endpointId: z.string(),
  })),
  ports: z.array(portSchema),
});

const networksSchema = z.object({
  version: z.literal(1),
  networks: z.record(
    z.string(),
    z.object({
      id: z.string(),
      name: z.string(),
      driver: z.literal("bridge"),
      created: z.string(),
      subnet: z.string(),
      gateway: z.string(),
      bridge: z.string(),
      internal: z.boolean(),
      labels: z.record(z.string(), z.string()),
      isDefault: z.boolean(),
    }),
  ),
});

type NetworksFile = z.infer<typeof networksSchema>;

/**
 * Whether `pid` is alive with a network namespace other than this process's: a container's
 * init. A zombie has none, and a reused pid is (almost always) a host process in ours.
 */
export function pidHasOwnNetns(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    const theirs = fs.statSync(`/proc/${pid}/ns/net`);
    const ours = fs.statSync("/proc/self/ns/net");
    return theirs.ino !== ours.ino || theirs.dev !== ours.dev;
  } catch {
    return false;
  }
}

const queues = new Map<string, Promise<unknown>>();

/** Runs `fn` under an exclusive lock on `file`: in-process queue first, then `flock`. */
export function withFileLock<T>(file: string, fn: () => Promise<T> | T): Promise<T> {
  const prev = queues.get(file) ?? Promise.resolve();
  const run = prev.catch(() => {}).then(async () => {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const fd = Deno.openSync(file, { read: true, write: true, create: true });
    try {
      // Other processes only: this process's callers are already queued above. A sync flock is
      // brief here (holders do a few file writes and nft calls), and keeps pool threads free.
      fd.lockSync(true);
      return await fn();
    } finally {
      fd.close();
    }
  });
  const tail = run.catch(() => {});
  queues.set(file, tail);
  tail.then(() => {
    if (queues.get(file) === tail) queues.delete(file);
  });
  return run;
}

/** Networks and endpoints on disk. */
export class NetworkStore {
  /** `<root>/networks`. */
  readonly dir: string;

  /** `root` is the engine's persistent root. */
  constructor(root: string) {
    this.dir = path.join(root, "networks");
  }

  /** The IPAM's directory. */
  get ipamDir(): string {
    return path.join(this.dir, "ipam");
  }

  /** Directory of endpoint files (the DNS server watches it). */
  get endpointsDir(): string {
    return path.join(this.dir, "endpoints");
  }

  /** Runs `fn` holding the store lock. */
  locked<T>(fn: () => Promise<T> | T): Promise<T> {
    return withFileLock(path.join(this.dir, "store.lock"), fn);
  }

  #networksFile(): string {
    return path.join(this.dir, "networks.json");
  }

  #readNetworks(): NetworksFile {
    let text: string;
    try {
      text = fs.readFileSync(this.#networksFile(), "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return { version: 1, networks: {} };
      throw err;
    }
    try {
      return networksSchema.parse(JSON.parse(text));
    } catch (err) {
      throw new InternalError(`Cannot read networks "${this.#networksFile()}": it is corrupt`, {
        cause: err,
      });
    }
  }

  /** Every network, by name. */
  networks(): NetworkRecord[] {
    return Object.values(this.#readNetworks().networks);
  }

  /** A network by exact name, full id or unique id prefix; undefined when none. */
  find(ref: string): NetworkRecord | undefined {
    const all = this.networks();
    const byName = all.find((n) => n.name === ref);
    if (byName) return byName;
    const byId = all.find((n) => n.id === ref);
    if (byId) return byId;
    if (/^[0-9a-f]{1,64}$/.test(ref)) {
      const matches = all.filter((n) => n.id.startsWith(ref));
      if (matches.length === 1) return matches[0];
    }
    return undefined;
  }

  /** Writes (adds or replaces) a network record. Call under {@link locked}. */
  putNetwork(rec: NetworkRecord): void {
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const file = this.#readNetworks();
    file.networks[rec.name] = rec;
    atomicWriteJsonSync(this.#networksFile(), file);
  }

  /** Deletes a network record. Call under {@link locked}. */
  deleteNetwork(name: string): void {
    const file = this.#readNetworks();
    if (!(name in file.networks)) return;
    delete file.networks[name];
    atomicWriteJsonSync(this.#networksFile(), file);
  }

  #endpointFile(containerId: string): string {
    if (!/^[0-9a-f]{64}$/.test(containerId)) {
      throw new InternalError(`Invalid container id "${containerId}"`);
    }
    return path.join(this.endpointsDir, `${containerId}.json`);
  }

  /** A container's endpoint record; undefined when it holds nothing. */
  endpoint(containerId: string): EndpointRecord | undefined {
    try {
      return endpointSchema.parse(
        JSON.parse(fs.readFileSync(this.#endpointFile(containerId), "utf8")),
      );
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw new InternalError(`Cannot read the network endpoint of container "${containerId}"`, {
        cause: err,
      });
    }
  }

  /** Every endpoint record (unreadable ones skipped). */
  endpoints(): EndpointRecord[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.endpointsDir);
    } catch {
      return [];
    }
    const out: EndpointRecord[] = [];
    for (const n of names) {
      if (!/^[0-9a-f]{64}\.json$/.test(n)) continue;
      try {
        const e = this.endpoint(n.slice(0, 64));
        if (e) out.push(e);
      } catch {
        // a corrupt record is reconciled away by its container's removal
      }
    }
    return out;
  }

  /** Writes a container's endpoint record atomically. */
  putEndpoint(rec: EndpointRecord): void {
    fs.mkdirSync(this.endpointsDir, { recursive: true, mode: 0o700 });
    atomicWriteJsonSync(this.#endpointFile(rec.containerId), rec);
  }

  /** Deletes a container's endpoint record (idempotent). */
  deleteEndpoint(containerId: string): void {
    fs.rmSync(this.#endpointFile(containerId), { force: true });
  }
}
