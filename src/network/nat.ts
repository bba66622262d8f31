/**
 * NAT for bridge networks in docker-ts's own nftables table (`ip docker-ts` by default). Nothing
 * else on the host is read or changed: the table holds its own base chains, so removing it (or a
 * rule in it) leaves every other table exactly as it was.
 *
 * ```
 * table ip docker-ts {
 *   chain prerouting  { type nat hook prerouting  priority -100; fib daddr type local jump publish }
 *   chain output      { type nat hook output      priority -100; fib daddr type local jump publish }
 *   chain postrouting { type nat hook postrouting priority 100; jump masq }
 *   chain publish     { <dnat rule per published port> }
 *   chain masq        { <masquerade rules per bridge> }
 *   chain guard       { type filter hook prerouting priority raw; <drop 127/8 from each bridge> }
 * }
 * ```
 *
 * Every rule carries a comment that is its identity (`dts dnat tcp 0.0.0.0:8080 172.17.0.2:80`):
 * adding checks for it first (idempotent), removing deletes exactly the rules with that comment
 * by handle. Check-then-change runs under an `flock` so concurrent engines do not race, and each
 * change is one `nft -f -` transaction (all or nothing).
 *
 * @module
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { InternalError, InvalidArgumentError, UnavailableError } from "../errors.ts";
import { ipToInt, parseCidr } from "./ipv4.ts";
import { validateLinkName } from "./links.ts";

/** One published port. */
export interface PortMapping {
  /** Transport protocol. */
  proto: "tcp" | "udp";
  /** Host address to match; empty or undefined = every local address. */
  hostIp?: string;
  /** Port on the host. */
  hostPort: number;
  /** The container's address on its bridge. */
  containerIp: string;
  /** Port inside the container. */
  containerPort: number;
}

/** A masquerade (outbound NAT) for a bridge's subnet. */
export interface Masquerade {
  /** The bridge's subnet (CIDR). */
  subnet: string;
  /** The bridge device. */
  bridge: string;
}

/** A rule as found in the table. */
export interface NatRule {
  /** Chain holding the rule. */
  chain: string;
  /** nftables rule handle. */
  handle: number;
  /** The identity comment. */
  comment: string;
}

/** Options of {@link Nat}. */
export interface NatOptions {
  /** Table name (tests use unique ones); default `docker-ts`. */
  table?: string;
  /** Directory of the lock file; default `/run/docker-ts`. */
  lockDir?: string;
  /** The nft binary; default `nft` from PATH. */
  nft?: string;
}

function checkPort(p: number, what: string): void {
  if (!Number.isInteger(p) || p < 1 || p > 65535) {
    throw new InvalidArgumentError(`Invalid ${what} ${p}: ports are 1 to 65535`);
  }
}

function checkIp(ip: string): string {
  ipToInt(ip); // throws InvalidArgumentError
  return ip;
}

/** The identity comment of a port mapping. */
export function dnatKey(m: PortMapping): string {
  return `dts dnat ${m.proto} ${
    m.hostIp || "0.0.0.0"
  }:${m.hostPort} ${m.containerIp}:${m.containerPort}`;
}

/** The identity comment of a bridge's masquerade rules. */
export function masqKey(m: Masquerade): string {
  return `dts masq ${parseCidr(m.subnet).cidr} ${m.bridge}`;
}

/** One rule to add: its chain and its nft statement (without `add rule …` and comment). */
export interface NftRule {
  /** Chain of docker-ts's table. */
  chain: "publish" | "masq" | "guard";
  /** The statement, e.g. `tcp dport 8080 dnat to 172.17.0.2:80`. */
  rule: string;
}

/** The rules of a port mapping. */
export function dnatRules(m: PortMapping): NftRule[] {
  if (m.proto !== "tcp" && m.proto !== "udp") {
    throw new InvalidArgumentError(`Invalid protocol "${m.proto}": use tcp or udp`);
  }
  checkPort(m.hostPort, "host port");
  checkPort(m.containerPort, "container port");
  checkIp(m.containerIp);
  const match = m.hostIp && m.hostIp !== "0.0.0.0" ? `ip daddr ${checkIp(m.hostIp)} ` : "";
  return [{
    chain: "publish",
    rule: `${match}${m.proto} dport ${m.hostPort} dnat to ${m.containerIp}:${m.containerPort}`,
  }];
}

/**
 * The rules of a bridge's masquerade: outbound, host-local sources (127.0.0.1 DNAT), hairpin, and
 * the loopback guard that route_localnet on the bridge makes necessary.
 */
export function masqRules(m: Masquerade): NftRule[] {
  const subnet = parseCidr(m.subnet).cidr;
  validateLinkName(m.bridge);
  return [
    // Containers going anywhere but their own bridge leave with the host's address (Docker's
    // `-s <subnet> ! -o docker0 -j MASQUERADE`).
    { chain: "masq", rule: `ip saddr ${subnet} oifname != "${m.bridge}" masquerade` },
    // Connections from the host's own addresses DNATed into the bridge (127.0.0.1:port) must not
    // reach the container with a loopback source it cannot answer; Docker's
    // `-m addrtype --src-type LOCAL -o docker0 -j MASQUERADE`.
    { chain: "masq", rule: `oifname "${m.bridge}" fib saddr type local masquerade` },
    // Hairpin: a container reaching a published port of its own bridge through the host. Matched
    // on the source subnet, not `iifname`: with bridge-nf-call-iptables on, a bridged packet
    // reaches nat postrouting without an input device.
    {
      chain: "masq",
      rule: `ip saddr ${subnet} oifname "${m.bridge}" ct status dnat masquerade`,
    },
    // route_localnet=1 on the bridge (needed for the 127.0.0.1 DNAT) would also let a container
    // send to 127.0.0.0/8 and reach the host's loopback-only services (CVE-2020-8558). Replies
    // of DNATed loopback connections are addressed to the gateway (masqueraded above), so
    // dropping loopback destinations arriving from the bridge loses nothing legitimate.
    { chain: "guard", rule: `iifname "${m.bridge}" ip daddr 127.0.0.0/8 drop` },
  ];
}

const SAFE_TABLE = /^[A-Za-z][A-Za-z0-9_-]{0,31}$/;

/** docker-ts's nftables NAT table. */
export class Nat {
  /** The nftables table name (family ip). */
  readonly table: string;
  readonly #lockFile: string;
  readonly #nft: string;

  /** Names the table and lock; nothing on the host changes until the first add. */
  constructor(opts: NatOptions = {}) {
    this.table = opts.table ?? "docker-ts";
    if (!SAFE_TABLE.test(this.table)) {
      throw new InvalidArgumentError(`Invalid nftables table name "${this.table}"`);
    }
    this.#lockFile = path.join(opts.lockDir ?? "/run/docker-ts", `nat-${this.table}.lock`);
    this.#nft = opts.nft ?? "nft";
  }

  /** Adds masquerading for a bridge's subnet; a no-op if present. */
  addMasquerade(m: Masquerade): Promise<boolean> {
    return this.#add(masqKey(m), masqRules(m));
  }

  /** Removes a bridge's masquerade rules; false if there were none. */
  removeMasquerade(m: Masquerade): Promise<boolean> {
    return this.#remove(masqKey(m));
  }

  /** Adds the DNAT rule of a published port; a no-op if present. */
  addPortMapping(m: PortMapping): Promise<boolean> {
    return this.#add(dnatKey(m), dnatRules(m));
  }

  /** Removes a published port's DNAT rule; false if there was none. */
  removePortMapping(m: PortMapping): Promise<boolean> {
    return this.#remove(dnatKey(m));
  }

  /** Every rule of the table that carries a docker-ts comment (none if the table is absent). */
  async listRules(): Promise<NatRule[]> {
    return (await this.#rules()).filter((r) => r.comment.startsWith("dts "));
  }

  /** Deletes the whole table (uninstall, tests). False if it did not exist. */
  deleteTable(): Promise<boolean> {
    return this.#locked(async () => {
      if (!(await this.#exists())) return false;
      await this.#run(["-f", "-"], `delete table ip ${this.table}\n`);
      return true;
    });
  }

  #add(key: string, rules: NftRule[]): Promise<boolean> {
    return this.#locked(async () => {
      const existing = (await this.#rules()).filter((r) => r.comment === key);
      if (existing.length === rules.length) return false;
      const t = this.table;
      const lines = [
        ...(await this.#exists()) ? [] : this.#skeleton(),
        // A partial set (someone deleted a rule by hand) is replaced whole.
        ...existing.map((r) => `delete rule ip ${t} ${r.chain} handle ${r.handle}`),
        ...rules.map((r) => `add rule ip ${t} ${r.chain} ${r.rule} comment "${key}"`),
      ];
      await this.#run(["-f", "-"], lines.join("\n") + "\n");
      return true;
    });
  }

  #remove(key: string): Promise<boolean> {
    return this.#locked(async () => {
      const found = (await this.#rules()).filter((r) => r.comment === key);
      if (found.length === 0) return false;
      const lines = found.map((r) => `delete rule ip ${this.table} ${r.chain} handle ${r.handle}`);
      await this.#run(["-f", "-"], lines.join("\n") + "\n");
      return true;
    });
  }

  /** The table with its base chains, jumps and empty rule chains, in one transaction. */
  #skeleton(): string[] {
    const t = `ip ${this.table}`;
    return [
      `add table ${t}`,
      `add chain ${t} publish`,
      `add chain ${t} masq`,
      // Filter at raw priority, before conntrack and NAT see the packet.
      `add chain ${t} guard { type filter hook prerouting priority -300; policy accept; }`,
      `add chain ${t} prerouting { type nat hook prerouting priority -100; policy accept; }`,
      `add chain ${t} output { type nat hook output priority -100; policy accept; }`,
      `add chain ${t} postrouting { type nat hook postrouting priority 100; policy accept; }`,
      `add rule ${t} prerouting fib daddr type local jump publish`,
      `add rule ${t} output fib daddr type local jump publish`,
      `add rule ${t} postrouting jump masq`,
    ];
  }

  async #exists(): Promise<boolean> {
    const out = await this.#run(["-j", "list", "tables", "ip"]);
    const doc = JSON.parse(out) as { nftables: Array<{ table?: { name: string } }> };
    return doc.nftables.some((x) => x.table?.name === this.table);
  }

  async #rules(): Promise<NatRule[]> {
    if (!(await this.#exists())) return [];
    const out = await this.#run(["-j", "list", "table", "ip", this.table]);
    const doc = JSON.parse(out) as {
      nftables: Array<{ rule?: { chain: string; handle: number; comment?: string } }>;
    };
    return doc.nftables.flatMap((x) =>
      x.rule ? [{ chain: x.rule.chain, handle: x.rule.handle, comment: x.rule.comment ?? "" }] : []
    );
  }

  async #run(args: string[], stdin?: string): Promise<string> {
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(this.#nft, {
        args,
        stdin: stdin === undefined ? "null" : "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
    } catch (err) {
      throw new UnavailableError(
        `Cannot run "${this.#nft}": nftables is needed for port publishing and NAT`,
        {
          cause: err,
        },
      );
    }
    if (stdin !== undefined) {
      const w = child.stdin.getWriter();
      await w.write(new TextEncoder().encode(stdin));
      await w.close();
    }
    const out = await child.output();
    if (out.code !== 0) {
      const err = new TextDecoder().decode(out.stderr).trim().split("\n")[0];
      throw new InternalError(`Cannot update nftables table "${this.table}": ${err}`);
    }
    return new TextDecoder().decode(out.stdout);
  }

  async #locked<T>(fn: () => Promise<T>): Promise<T> {
    fs.mkdirSync(path.dirname(this.#lockFile), { recursive: true, mode: 0o700 });
    const lock = await Deno.open(this.#lockFile, { read: true, write: true, create: true });
    try {
      await lock.lock(true);
      return await fn();
    } finally {
      lock.close();
    }
  }
}
