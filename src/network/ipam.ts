/**
 * IP address management: subnets per network and addresses per container, persisted in one JSON
 * file under an injectable root and changed only under an exclusive `flock` on a lock file beside
 * it. Every operation is synchronous from lock to unlock, so concurrent engines (separate
 * processes, or Workers of one process) serialise on the lock and no address is ever handed out
 * twice; the state survives restarts because every change is an atomic write before the unlock.
 *
 * The IPAM itself does no I/O on the network: callers pass the host's routes (see
 * `hostSubnets` in routes.ts) so the subnet choice avoids them.
 *
 * @module
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { z } from "zod";
import { atomicWriteJsonSync } from "../util/atomic_write.ts";
import {
  ConflictError,
  InternalError,
  InvalidArgumentError,
  NotFoundError,
  UnavailableError,
} from "../errors.ts";
import { contains, intToIp, ipToInt, overlaps, parseCidr, type Subnet, subnetOf } from "./ipv4.ts";

/** A pool subnets are carved from: `base` split into subnets of prefix length `size`. */
export interface PoolSpec {
  /** The pool, in CIDR form. */
  base: string;
  /** Prefix length of each subnet carved from it. */
  size: number;
}

/**
 * Docker's default address pools: 172.17.0.0/16 … 172.31.0.0/16, then 192.168.0.0/16 in /20s.
 * The first free one becomes the default bridge's subnet, as with Docker.
 */
export const DEFAULT_POOLS: readonly PoolSpec[] = [
  ...Array.from({ length: 15 }, (_, i) => ({ base: `172.${17 + i}.0.0/16`, size: 16 })),
  { base: "192.168.0.0/16", size: 20 },
];

/** One network's address space as stored. */
export interface NetworkPool {
  /** Canonical CIDR. */
  subnet: string;
  /** The gateway (the bridge's own address): never allocated. */
  gateway: string;
  /** Allocated addresses → owner (container id or any caller-chosen key). */
  allocated: Record<string, string>;
  /** The last address handed out: allocation continues after it, so a released address is not
   * reused at once (as Docker does), which keeps stale ARP/conntrack entries harmless. */
  last?: string;
}

const stateSchema = z.object({
  version: z.literal(1),
  networks: z.record(
    z.string(),
    z.object({
      subnet: z.string(),
      gateway: z.string(),
      allocated: z.record(z.string(), z.string()),
      last: z.string().optional(),
    }),
  ),
});
type State = z.infer<typeof stateSchema>;

/** Options of {@link Ipam.addNetwork}. */
export interface AddNetworkOptions {
  /** A fixed subnet (`--subnet`); otherwise the first free one from `pools`. */
  subnet?: string;
  /** A fixed gateway (`--gateway`); default the subnet's first host. */
  gateway?: string;
  /** Subnets already routed on the host (CIDR); a chosen subnet must overlap none. */
  hostRoutes?: readonly string[];
  /** Pools to choose from; default {@link DEFAULT_POOLS}. */
  pools?: readonly PoolSpec[];
}

/** Options of {@link Ipam.allocate}. */
export interface AllocateOptions {
  /** A specific address (`--ip`). */
  requested?: string;
  /** Who holds the address (container id); used by `releaseOwner`. */
  owner?: string;
}

/** The persisted, locked allocator. */
export class Ipam {
  readonly #file: string;
  readonly #lockFile: string;

  /** `root` is a directory owned by the IPAM (created on first use). */
  constructor(opts: { root: string }) {
    this.#file = path.join(opts.root, "ipam.json");
    this.#lockFile = path.join(opts.root, "ipam.lock");
  }

  /**
   * Registers a network's subnet: the given one (after checking it overlaps no other network),
   * or the first pool subnet that overlaps no network and no host route.
   * Throws ConflictError if `id` exists or the subnet overlaps; UnavailableError if no pool is free.
   */
  addNetwork(id: string, opts: AddNetworkOptions = {}): NetworkPool {
    return this.#update((state) => {
      if (state.networks[id]) {
        throw new ConflictError(`Network "${id}" already has an address pool`);
      }
      const taken = Object.entries(state.networks).map(([name, n]) => ({
        name,
        subnet: parseCidr(n.subnet),
      }));
      let subnet: Subnet;
      if (opts.subnet !== undefined) {
        subnet = parseCidr(opts.subnet);
        if (subnet.prefixLen > 30) {
          throw new InvalidArgumentError(
            `Invalid subnet "${opts.subnet}": it must be /30 or larger`,
          );
        }
        const clash = taken.find((t) => overlaps(t.subnet, subnet));
        if (clash) {
          throw new ConflictError(
            `Cannot use subnet "${subnet.cidr}": it overlaps "${clash.subnet.cidr}" of network "${clash.name}"`,
          );
        }
      } else {
        const avoid = [
          ...taken.map((t) => t.subnet),
          ...(opts.hostRoutes ?? []).map((r) => parseCidr(r, false)).filter((r) => r.prefixLen > 0),
        ];
        const found = chooseSubnet(opts.pools ?? DEFAULT_POOLS, avoid);
        if (!found) {
          throw new UnavailableError(
            "Cannot choose a subnet: every default address pool overlaps an existing network or route",
          );
        }
        subnet = found;
      }
      const gateway = opts.gateway ?? intToIp(subnet.network + 1);
      const gw = ipToInt(gateway);
      if (!contains(subnet, gw) || gw === subnet.network || gw === subnet.broadcast) {
        throw new InvalidArgumentError(
          `Invalid gateway "${gateway}": not a host address of "${subnet.cidr}"`,
        );
      }
      const pool: NetworkPool = { subnet: subnet.cidr, gateway, allocated: {} };
      state.networks[id] = pool;
      return structuredClone(pool);
    });
  }

  /** Forgets a network's pool. Throws ConflictError while addresses are allocated, unless `force`. */
  removeNetwork(id: string, opts: { force?: boolean } = {}): boolean {
    return this.#update((state) => {
      const n = state.networks[id];
      if (!n) return false;
      const inUse = Object.keys(n.allocated).length;
      if (inUse > 0 && !opts.force) {
        throw new ConflictError(
          `Cannot remove the address pool of network "${id}": ${inUse} address(es) in use`,
        );
      }
      delete state.networks[id];
      return true;
    });
  }

  /** A network's pool, or undefined. */
  getNetwork(id: string): NetworkPool | undefined {
    return this.#read((state) => structuredClone(state.networks[id]));
  }

  /** Every network's pool, by id. */
  listNetworks(): Record<string, NetworkPool> {
    return this.#read((state) => structuredClone(state.networks));
  }

  /**
   * Hands out an address of `network`: `requested` if given and free, else the next free one after
   * the last handed out. The network, broadcast and gateway addresses are never handed out.
   */
  allocate(network: string, opts: AllocateOptions = {}): string {
    return this.#update((state) => {
      const n = state.networks[network];
      if (!n) {
        throw new NotFoundError(
          `Cannot allocate an address: network "${network}" has no address pool`,
        );
      }
      const subnet = parseCidr(n.subnet);
      const gateway = ipToInt(n.gateway);
      const owner = opts.owner ?? "";
      if (opts.requested !== undefined) {
        const want = ipToInt(opts.requested);
        if (!contains(subnet, want)) {
          throw new InvalidArgumentError(
            `Invalid address "${opts.requested}": not in subnet "${n.subnet}" of network "${network}"`,
          );
        }
        if (want === subnet.network || want === subnet.broadcast || want === gateway) {
          throw new InvalidArgumentError(
            `Invalid address "${opts.requested}": it is the ${
              want === gateway ? "gateway" : want === subnet.network ? "network" : "broadcast"
            } address of network "${network}"`,
          );
        }
        const addr = intToIp(want);
        if (addr in n.allocated) {
          throw new ConflictError(`Address "${addr}" is already in use on network "${network}"`);
        }
        n.allocated[addr] = owner;
        return addr;
      }
      const first = subnet.network + 1;
      const lastHost = subnet.broadcast - 1;
      const size = lastHost - first + 1;
      let cur = n.last !== undefined ? ipToInt(n.last) : first - 1;
      for (let i = 0; i < size; i++) {
        cur = cur >= lastHost || cur < first - 1 ? first : cur + 1;
        if (cur === gateway) continue;
        const addr = intToIp(cur);
        if (addr in n.allocated) continue;
        n.allocated[addr] = owner;
        n.last = addr;
        return addr;
      }
      throw new UnavailableError(`No free address left in network "${network}" (${n.subnet})`);
    });
  }

  /** Returns an address to the pool; false if it was not allocated. */
  release(network: string, address: string): boolean {
    return this.#update((state) => {
      const n = state.networks[network];
      if (!n || !(address in n.allocated)) return false;
      delete n.allocated[address];
      return true;
    });
  }

  /** Releases every address `owner` holds, in every network; returns how many. */
  releaseOwner(owner: string): number {
    return this.prune((o) => o !== owner);
  }

  /**
   * Releases every address whose owner `keep` rejects (a daemon restart reconciles with the
   * containers that still exist). Returns how many were released.
   */
  prune(keep: (owner: string, network: string) => boolean): number {
    return this.#update((state) => {
      let count = 0;
      for (const [id, n] of Object.entries(state.networks)) {
        for (const [addr, o] of Object.entries(n.allocated)) {
          if (!keep(o, id)) {
            delete n.allocated[addr];
            count++;
          }
        }
      }
      return count;
    });
  }

  #load(): State {
    let text: string;
    try {
      text = fs.readFileSync(this.#file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return { version: 1, networks: {} };
      throw err;
    }
    try {
      return stateSchema.parse(JSON.parse(text));
    } catch (err) {
      throw new InternalError(`Cannot read IPAM state "${this.#file}": it is corrupt`, {
        cause: err,
      });
    }
  }

  #locked<T>(fn: () => T): T {
    fs.mkdirSync(path.dirname(this.#file), { recursive: true, mode: 0o700 });
    const lock = Deno.openSync(this.#lockFile, { read: true, write: true, create: true });
    try {
      lock.lockSync(true);
      return fn();
    } finally {
      // Closing the file releases the flock too; unlock first to say so plainly.
      try {
        lock.unlockSync();
      } finally {
        lock.close();
      }
    }
  }

  #read<T>(fn: (state: State) => T): T {
    return this.#locked(() => fn(this.#load()));
  }

  #update<T>(fn: (state: State) => T): T {
    return this.#locked(() => {
      const state = this.#load();
      const before = JSON.stringify(state);
      const result = fn(state);
      // Unchanged state (a no-op release) costs no write.
      if (JSON.stringify(state) !== before) atomicWriteJsonSync(this.#file, state);
      return result;
    });
  }
}

/** The first subnet of `pools` (in order) that overlaps none of `avoid`. */
export function chooseSubnet(
  pools: readonly PoolSpec[],
  avoid: readonly Subnet[],
): Subnet | undefined {
  for (const pool of pools) {
    const base = parseCidr(pool.base);
    if (pool.size < base.prefixLen || pool.size > 30) {
      throw new InvalidArgumentError(`Invalid address pool "${pool.base}" with size ${pool.size}`);
    }
    const step = 2 ** (32 - pool.size);
    for (let net = base.network; net <= base.broadcast; net += step) {
      const candidate = subnetOf(net, pool.size);
      if (!avoid.some((a) => overlaps(a, candidate))) return candidate;
    }
  }
  return undefined;
}
