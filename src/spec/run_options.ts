/**
 * Options of `docker run` / `docker create`, validated at the edge: a strict zod schema that
 * parses Docker's value syntaxes (`512m`, `1.5` cpus, `nofile=1024:2048`, `--mount` CSV, …),
 * then a list of named semantic checks. Inner code trusts the parsed {@link RunOptions}.
 *
 * @module
 */
import { z } from "zod";
import { InvalidArgumentError, NotImplementedError } from "../errors.ts";
import { parsePublish, type PortSpec } from "../network/port_spec.ts";
import { parseBytes, parseNanoCpus } from "./size_parse.ts";

export { parseBytes, parseNanoCpus };

// ---------------------------------------------------------------------------------------------
// Value parsers (Docker's syntaxes). Each throws InvalidArgumentError with a docker-like message.

/** The rlimits `--ulimit` accepts, by Docker's short name. */
export const ULIMIT_NAMES: Record<string, string> = {
  as: "RLIMIT_AS",
  core: "RLIMIT_CORE",
  cpu: "RLIMIT_CPU",
  data: "RLIMIT_DATA",
  fsize: "RLIMIT_FSIZE",
  locks: "RLIMIT_LOCKS",
  memlock: "RLIMIT_MEMLOCK",
  msgqueue: "RLIMIT_MSGQUEUE",
  nice: "RLIMIT_NICE",
  nofile: "RLIMIT_NOFILE",
  nproc: "RLIMIT_NPROC",
  rss: "RLIMIT_RSS",
  rtprio: "RLIMIT_RTPRIO",
  rttime: "RLIMIT_RTTIME",
  sigpending: "RLIMIT_SIGPENDING",
  stack: "RLIMIT_STACK",
};

/** A parsed `--ulimit`. `-1` means unlimited. */
export interface Ulimit {
  /** Docker's short name (`nofile`). */
  name: string;
  soft: number;
  hard: number;
}

/** Parses `--ulimit name=soft[:hard]`. */
export function parseUlimit(value: string): Ulimit {
  const m = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/.exec(value.trim());
  if (!m) {
    throw new InvalidArgumentError(
      `Invalid argument "${value}" for "--ulimit" flag: expected name=soft[:hard]`,
    );
  }
  const name = m[1];
  if (!(name in ULIMIT_NAMES)) {
    throw new InvalidArgumentError(
      `Invalid argument "${value}" for "--ulimit" flag: invalid ulimit type: ${name}`,
    );
  }
  const soft = Number(m[2]);
  const hard = m[3] === undefined ? soft : Number(m[3]);
  if (soft !== -1 && hard !== -1 && soft > hard) {
    throw new InvalidArgumentError(
      `Invalid argument "${value}" for "--ulimit" flag: ulimit soft limit must be less than or equal to hard limit: ${soft} > ${hard}`,
    );
  }
  return { name, soft, hard };
}

/** A parsed mount request from `-v`, `--mount` or `--tmpfs`. */
export type MountSpec =
  | {
    type: "bind";
    source: string;
    target: string;
    readonly: boolean;
    /** `-v` creates a missing source directory; `--mount` refuses it. */
    createSource: boolean;
    propagation?: string;
  }
  | { type: "tmpfs"; target: string; readonly: boolean; options: string[] };

function requireAbsoluteTarget(target: string, flag: string, raw: string): string {
  if (!target.startsWith("/")) {
    throw new InvalidArgumentError(
      `Invalid ${flag} specification "${raw}": invalid mount path: "${target}" mount path must be absolute`,
    );
  }
  if (target === "/") {
    throw new InvalidArgumentError(
      `Invalid ${flag} specification "${raw}": invalid specification: destination can't be "/"`,
    );
  }
  return target;
}

const PROPAGATIONS = new Set(["private", "rprivate", "shared", "rshared", "slave", "rslave"]);

/** Parses `-v host:ctr[:opts]`. Named and anonymous volumes come with the volumes issue. */
export function parseVolume(raw: string): MountSpec {
  const parts = raw.split(":");
  if (parts.length === 1) {
    throw new NotImplementedError(
      `Cannot create anonymous volume "${raw}": volumes are not supported yet`,
    );
  }
  if (parts.length > 3 || parts.some((p) => p === "")) {
    throw new InvalidArgumentError(`Invalid volume specification: "${raw}"`);
  }
  const [source, target, opts = ""] = parts;
  if (!source.startsWith("/")) {
    throw new NotImplementedError(
      `Cannot use named volume "${source}": named volumes are not supported yet`,
    );
  }
  let readonly = false;
  let propagation: string | undefined;
  for (const opt of opts ? opts.split(",") : []) {
    if (opt === "ro") readonly = true;
    else if (opt === "rw") readonly = false;
    else if (opt === "z" || opt === "Z" || opt === "nocopy" || opt === "consistent") continue;
    else if (PROPAGATIONS.has(opt)) propagation = opt;
    else {throw new InvalidArgumentError(
        `Invalid volume specification: "${raw}": invalid mode: ${opt}`,
      );}
  }
  return {
    type: "bind",
    source: normalizeAbs(source),
    target: requireAbsoluteTarget(target, "volume", raw),
    readonly,
    createSource: true,
    propagation,
  };
}

function normalizeAbs(p: string): string {
  const out: string[] = [];
  for (const seg of p.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") out.pop();
    else out.push(seg);
  }
  return "/" + out.join("/");
}

function parseBoolOpt(value: string | undefined, raw: string, key: string): boolean {
  if (value === undefined || value === "true" || value === "1") return true;
  if (value === "false" || value === "0") return false;
  throw new InvalidArgumentError(
    `Invalid argument "${raw}" for "--mount" flag: invalid value for ${key}: ${value}`,
  );
}

/** Parses `--mount type=bind|tmpfs,source=…,target=…[,readonly][,tmpfs-size=…]`. */
export function parseMount(raw: string): MountSpec {
  let type = "volume";
  let source: string | undefined;
  let target: string | undefined;
  let readonly = false;
  let propagation: string | undefined;
  const tmpfsOpts: string[] = [];
  const bad = (why: string): never => {
    throw new InvalidArgumentError(`Invalid argument "${raw}" for "--mount" flag: ${why}`);
  };
  for (const field of raw.split(",")) {
    if (field === "") continue;
    const eq = field.indexOf("=");
    const key = (eq < 0 ? field : field.slice(0, eq)).trim().toLowerCase();
    const value = eq < 0 ? undefined : field.slice(eq + 1);
    switch (key) {
      case "type":
        type = value ?? bad("type requires a value");
        break;
      case "source":
      case "src":
        source = value;
        break;
      case "target":
      case "destination":
      case "dst":
        target = value;
        break;
      case "readonly":
      case "ro":
        readonly = parseBoolOpt(value, raw, key);
        break;
      case "bind-propagation":
        if (!value || !PROPAGATIONS.has(value)) bad(`invalid bind propagation: ${value}`);
        propagation = value;
        break;
      case "tmpfs-size":
        tmpfsOpts.push(
          `size=${parseBytes(value ?? bad("tmpfs-size requires a value"), "tmpfs-size")}`,
        );
        break;
      case "tmpfs-mode": {
        const mode = value ?? bad("tmpfs-mode requires a value");
        if (!/^[0-7]{1,4}$/.test(mode)) bad(`invalid tmpfs-mode: ${mode}`);
        tmpfsOpts.push(`mode=${mode}`);
        break;
      }
      case "consistency":
      case "bind-nonrecursive":
        break;
      default:
        if (key.startsWith("volume-")) break;
        bad(`unexpected key '${key}' in '${field}'`);
    }
  }
  if (!target) bad("target is required");
  const dest = requireAbsoluteTarget(target!, "mount", raw);
  if (type === "bind") {
    if (!source) {
      throw new InvalidArgumentError(
        `invalid mount config for type "bind": field Source must not be empty`,
      );
    }
    return {
      type: "bind",
      source: normalizeAbs(source),
      target: dest,
      readonly,
      createSource: false,
      propagation,
    };
  }
  if (type === "tmpfs") {
    if (source) {
      throw new InvalidArgumentError(
        `invalid mount config for type "tmpfs": field Source must be empty`,
      );
    }
    return { type: "tmpfs", target: dest, readonly, options: tmpfsOpts };
  }
  if (type === "volume") {
    throw new NotImplementedError(
      `Cannot mount volume "${source ?? ""}": volumes are not supported yet`,
    );
  }
  return bad(`invalid mount type "${type}"`);
}

/** Parses `--tmpfs /path[:opts]`. */
export function parseTmpfs(raw: string): MountSpec {
  const colon = raw.indexOf(":");
  const target = colon < 0 ? raw : raw.slice(0, colon);
  const opts = colon < 0 ? [] : raw.slice(colon + 1).split(",").filter((o) => o !== "");
  const options: string[] = [];
  let readonly = false;
  for (const o of opts) {
    if (o === "ro") readonly = true;
    else if (o === "rw") readonly = false;
    else if (o.startsWith("size=")) options.push(`size=${parseBytes(o.slice(5), "tmpfs size")}`);
    else options.push(o);
  }
  return { type: "tmpfs", target: requireAbsoluteTarget(target, "tmpfs", raw), readonly, options };
}

/** Parsed `--security-opt` values. */
export interface SecurityOptions {
  noNewPrivileges: boolean;
  /** Stored for the seccomp issue: `unconfined`, or a profile path. */
  seccomp?: string;
  /** Everything else recognised but not acted on (apparmor, label). */
  other: string[];
}

/** Parses the `--security-opt` list. */
export function parseSecurityOpts(values: string[]): SecurityOptions {
  const out: SecurityOptions = { noNewPrivileges: false, other: [] };
  for (const raw of values) {
    const sep = raw.search(/[=:]/);
    const key = sep < 0 ? raw : raw.slice(0, sep);
    const value = sep < 0 ? undefined : raw.slice(sep + 1);
    if (key === "no-new-privileges") {
      if (value === undefined || value === "true") out.noNewPrivileges = true;
      else if (value === "false") out.noNewPrivileges = false;
      else {throw new InvalidArgumentError(
          `Invalid --security-opt "${raw}": invalid value for no-new-privileges`,
        );}
    } else if (key === "seccomp" && value) {
      out.seccomp = value;
    } else if ((key === "apparmor" || key === "label" || key === "systempaths") && value) {
      out.other.push(raw);
    } else {
      throw new InvalidArgumentError(`Invalid --security-opt: "${raw}"`);
    }
  }
  return out;
}

/** A parsed `--add-host`. */
export interface ExtraHost {
  host: string;
  ip: string;
}

/** Parses `--add-host host:ip` (or `host=ip`). */
export function parseAddHost(raw: string): ExtraHost {
  const eq = raw.indexOf("=");
  const sep = eq >= 0 ? eq : raw.indexOf(":");
  if (sep <= 0) {
    throw new InvalidArgumentError(
      `Invalid argument "${raw}" for "--add-host" flag: bad format for add-host`,
    );
  }
  const host = raw.slice(0, sep);
  let ip = raw.slice(sep + 1).replace(/^\[(.*)\]$/, "$1");
  if (ip === "host-gateway") {
    throw new NotImplementedError(
      `Cannot resolve "host-gateway" for "--add-host": no bridge network yet`,
    );
  }
  if (!isIp(ip)) {
    throw new InvalidArgumentError(
      `Invalid argument "${raw}" for "--add-host" flag: invalid IP address in add-host: "${ip}"`,
    );
  }
  ip = ip.toLowerCase();
  return { host, ip };
}

function isIp(s: string): boolean {
  if (/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.test(s)) {
    return s.split(".").every((o) => Number(o) <= 255);
  }
  return /^[0-9a-fA-F:.]+$/.test(s) && s.includes(":");
}

/** Parses `--label k=v` entries into a map (a bare `k` gives an empty value, as Docker does). */
export function parseLabels(values: string[] | Record<string, string>): Record<string, string> {
  if (!Array.isArray(values)) return { ...values };
  const out: Record<string, string> = {};
  for (const v of values) {
    const eq = v.indexOf("=");
    if (eq === 0) throw new InvalidArgumentError(`Invalid label "${v}": empty name`);
    if (eq < 0) out[v] = "";
    else out[v.slice(0, eq)] = v.slice(eq + 1);
  }
  return out;
}

/** Docker's container name rule. */
export const CONTAINER_NAME_RE: RegExp = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

// ---------------------------------------------------------------------------------------------
// The schema.

const strList = z.array(z.string());
const sizeValue = z.union([z.string(), z.number()]);

/** What callers pass to `create`/`run` (flags as the CLI collects them, values as strings). */
// A type alias (not an interface) so callers may view it as Record<string, unknown>.
export type RunOptionsInput = {
  image: string;
  cmd?: string[];
  /** `--entrypoint` is one string (`""` clears the image's); the API passes a list. */
  entrypoint?: string | string[] | null;
  env?: string[];
  envFile?: string[];
  workdir?: string;
  user?: string;
  hostname?: string;
  name?: string;
  labels?: string[] | Record<string, string>;
  addHosts?: string[];
  dns?: string[];
  dnsSearch?: string[];
  dnsOptions?: string[];
  stopSignal?: string;
  stopTimeout?: number;
  /** `-v host:ctr[:ro|rw]` */
  volumes?: string[];
  /** `--mount type=bind|tmpfs,source=…,target=…[,readonly]` */
  mounts?: string[];
  /** `--tmpfs /path[:opts]` */
  tmpfs?: string[];
  readOnly?: boolean;
  /** `bridge` (default), `none`, `host`, `container:<name|id>` or a user network's name. */
  network?: string;
  /** `-p [ip:][hostPort:]containerPort[/proto]`, ranges allowed. */
  publish?: string[];
  /** `-P`: publish every exposed port to a random host port. */
  publishAll?: boolean;
  /** `--expose port[/proto]` (ranges allowed). */
  expose?: string[];
  /** `--ip` on a user-defined network. */
  ip?: string;
  /** `--network-alias` on a user-defined network. */
  networkAliases?: string[];
  capAdd?: string[];
  capDrop?: string[];
  /** `--group-add`: more supplementary groups, by name (the image's /etc/group) or gid. */
  groupAdd?: string[];
  privileged?: boolean;
  securityOpt?: string[];
  /** `nofile=1024:2048` */
  ulimits?: string[];
  /** `512m`, `1g` or bytes. */
  memory?: string | number;
  /** `-1` for unlimited swap. */
  memorySwap?: string | number;
  /** `1.5` */
  cpus?: string | number;
  cpuShares?: number;
  cpusetCpus?: string;
  pidsLimit?: number;
  shmSize?: string | number;
  tty?: boolean;
  interactive?: boolean;
  /** Docker's `StdinOnce`: the first attached client's end of input closes the stdin. */
  stdinOnce?: boolean;
  rm?: boolean;
  detach?: boolean;
  platform?: string;
  pull?: "missing" | "always" | "never";
};

/** {@link RunOptionsInput} with the defaults applied (the schema's output, before parsing). */
export type RunOptionsRaw =
  & Required<
    Pick<
      RunOptionsInput,
      | "env"
      | "envFile"
      | "labels"
      | "addHosts"
      | "dns"
      | "dnsSearch"
      | "dnsOptions"
      | "volumes"
      | "mounts"
      | "tmpfs"
      | "readOnly"
      | "network"
      | "capAdd"
      | "capDrop"
      | "groupAdd"
      | "privileged"
      | "securityOpt"
      | "ulimits"
      | "tty"
      | "interactive"
      | "stdinOnce"
      | "rm"
      | "detach"
      | "pull"
    >
  >
  & RunOptionsInput;

/** Zod schema of what callers pass; `.parse` gives {@link RunOptionsRaw}. */
export const RunOptionsSchema: z.ZodType<RunOptionsRaw, RunOptionsInput> = z.strictObject({
  image: z.string().min(1, "image reference is required"),
  cmd: strList.optional(),
  /** `--entrypoint` is one string (`""` clears the image's); the API passes a list. */
  entrypoint: z.union([z.string(), strList]).nullable().optional(),
  env: strList.default([]),
  envFile: strList.default([]),
  workdir: z.string().optional(),
  user: z.string().optional(),
  hostname: z.string().optional(),
  name: z.string().optional(),
  labels: z.union([strList, z.record(z.string(), z.string())]).default([]),
  addHosts: strList.default([]),
  dns: strList.default([]),
  dnsSearch: strList.default([]),
  dnsOptions: strList.default([]),
  stopSignal: z.string().optional(),
  stopTimeout: z.number().int().optional(),
  volumes: strList.default([]),
  mounts: strList.default([]),
  tmpfs: strList.default([]),
  readOnly: z.boolean().default(false),
  network: z.string().default("default"),
  publish: strList.optional(),
  publishAll: z.boolean().optional(),
  expose: strList.optional(),
  ip: z.string().optional(),
  networkAliases: strList.optional(),
  capAdd: strList.default([]),
  capDrop: strList.default([]),
  groupAdd: strList.default([]),
  privileged: z.boolean().default(false),
  securityOpt: strList.default([]),
  ulimits: strList.default([]),
  memory: sizeValue.optional(),
  memorySwap: sizeValue.optional(),
  cpus: sizeValue.optional(),
  cpuShares: z.number().int().nonnegative().optional(),
  cpusetCpus: z.string().optional(),
  pidsLimit: z.number().int().optional(),
  shmSize: sizeValue.optional(),
  tty: z.boolean().default(false),
  interactive: z.boolean().default(false),
  stdinOnce: z.boolean().default(false),
  rm: z.boolean().default(false),
  detach: z.boolean().default(false),
  platform: z.string().optional(),
  pull: z.enum(["missing", "always", "never"]).default("missing"),
});

type Raw = RunOptionsRaw;

/** Fully parsed and checked run options, stored in `container.json`. */
export interface RunOptions {
  image: string;
  cmd?: string[];
  /** `undefined`: image's; `[]`: cleared (`--entrypoint ""`); else the replacement. */
  entrypoint?: string[];
  env: string[];
  envFile: string[];
  workdir?: string;
  user?: string;
  hostname?: string;
  /** Without the leading `/`. */
  name?: string;
  labels: Record<string, string>;
  addHosts: ExtraHost[];
  dns: string[];
  dnsSearch: string[];
  dnsOptions: string[];
  stopSignal?: string;
  stopTimeout?: number;
  mounts: MountSpec[];
  readOnly: boolean;
  /** `bridge`, `none`, `host`, `container:<name|id>` or a user network's name. */
  network: string;
  /** Parsed `-p` bindings (host port 0: random). */
  publish: PortSpec[];
  /** `-P`. */
  publishAll: boolean;
  /** `--expose` keys in Docker's `80/tcp` form. */
  expose: string[];
  /** `--ip`. */
  ip?: string;
  /** `--network-alias`es. */
  networkAliases: string[];
  capAdd: string[];
  capDrop: string[];
  /** `--group-add` entries as given (resolved against the image's /etc/group at create). */
  groupAdd: string[];
  privileged: boolean;
  security: SecurityOptions;
  ulimits: Ulimit[];
  /** Bytes. */
  memory?: number;
  /** Bytes of memory+swap; -1 unlimited. */
  memorySwap?: number;
  nanoCpus?: number;
  cpuShares?: number;
  cpusetCpus?: string;
  pidsLimit?: number;
  /** Bytes; default 64 MiB. */
  shmSize: number;
  tty: boolean;
  interactive: boolean;
  /** Docker's `StdinOnce` (`run -i` without `-d`). */
  stdinOnce: boolean;
  rm: boolean;
  detach: boolean;
  platform?: string;
  pull: "missing" | "always" | "never";
}

function formatZodError(err: z.ZodError): string {
  const issue = err.issues[0];
  const where = issue.path.length ? issue.path.join(".") : "options";
  if (issue.code === "unrecognized_keys") {
    return `Invalid run options: unknown option ${issue.keys.map((k) => `"${k}"`).join(", ")}`;
  }
  return `Invalid run options: "${where}": ${issue.message}`;
}

const DEFAULT_SHM = 64 * 1024 * 1024;
const MIN_MEMORY = 6 * 1024 * 1024;

/**
 * Validates and parses run options; every failure is one {@link InvalidArgumentError} (or a
 * NotImplementedError for syntaxes of later issues such as named volumes).
 *
 * @example
 * ```ts
 * import { parseRunOptions } from "./run_options.ts";
 * const opts = parseRunOptions({ image: "busybox", memory: "512m", cpus: "1.5" });
 * console.assert(opts.memory === 512 * 1024 * 1024 && opts.nanoCpus === 1.5e9);
 * ```
 */
export function parseRunOptions(input: unknown): RunOptions {
  const res = RunOptionsSchema.safeParse(input);
  if (!res.success) throw new InvalidArgumentError(formatZodError(res.error), { cause: res.error });
  const raw: Raw = res.data;
  const opts: RunOptions = {
    image: raw.image,
    cmd: raw.cmd,
    entrypoint: raw.entrypoint === undefined || raw.entrypoint === null
      ? undefined
      : typeof raw.entrypoint === "string"
      ? (raw.entrypoint === "" ? [] : [raw.entrypoint])
      : raw.entrypoint,
    env: raw.env,
    envFile: raw.envFile,
    workdir: raw.workdir,
    user: raw.user === "" ? undefined : raw.user,
    hostname: raw.hostname === "" ? undefined : raw.hostname,
    name: raw.name === undefined || raw.name === "" ? undefined : raw.name.replace(/^\//, ""),
    labels: parseLabels(raw.labels),
    addHosts: raw.addHosts.map(parseAddHost),
    dns: raw.dns,
    dnsSearch: raw.dnsSearch,
    dnsOptions: raw.dnsOptions,
    stopSignal: raw.stopSignal,
    stopTimeout: raw.stopTimeout,
    mounts: [
      ...raw.volumes.map(parseVolume),
      ...raw.mounts.map(parseMount),
      ...raw.tmpfs.map(parseTmpfs),
    ],
    readOnly: raw.readOnly,
    network: parseNetwork(raw.network),
    publish: (raw.publish ?? []).flatMap(parsePublish),
    publishAll: raw.publishAll ?? false,
    expose: (raw.expose ?? []).map(parseExpose),
    ip: raw.ip === "" ? undefined : raw.ip,
    networkAliases: raw.networkAliases ?? [],
    capAdd: raw.capAdd,
    capDrop: raw.capDrop,
    groupAdd: raw.groupAdd,
    privileged: raw.privileged,
    security: parseSecurityOpts(raw.securityOpt),
    ulimits: raw.ulimits.map(parseUlimit),
    memory: raw.memory === undefined ? undefined : parseBytes(raw.memory, "memory"),
    memorySwap: raw.memorySwap === undefined
      ? undefined
      : raw.memorySwap === -1 || raw.memorySwap === "-1"
      ? -1
      : parseBytes(raw.memorySwap, "memory-swap"),
    nanoCpus: raw.cpus === undefined ? undefined : parseNanoCpus(raw.cpus),
    cpuShares: raw.cpuShares,
    cpusetCpus: raw.cpusetCpus,
    pidsLimit: raw.pidsLimit,
    shmSize: raw.shmSize === undefined ? DEFAULT_SHM : parseBytes(raw.shmSize, "shm-size"),
    tty: raw.tty,
    interactive: raw.interactive,
    stdinOnce: raw.stdinOnce && raw.interactive,
    rm: raw.rm,
    detach: raw.detach,
    platform: raw.platform,
    pull: raw.pull,
  };
  for (const check of SEMANTIC_CHECKS) check.check(opts);
  return opts;
}

function parseNetwork(value: string): string {
  // Docker's "default" is the bridge network. Whether a named network exists is checked by the
  // engine (it needs the network store).
  if (value === "default" || value === "") return "bridge";
  if (value.startsWith("container:") && value.length === "container:".length) {
    throw new InvalidArgumentError(`Invalid network mode "${value}": no container given`);
  }
  return value;
}

function parseExpose(value: string): string {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?(?:\/(tcp|udp|sctp))?$/i.exec(value.trim());
  if (!m || Number(m[1]) < 1 || Number(m[1]) > 65535 || (m[2] && Number(m[2]) > 65535)) {
    throw new InvalidArgumentError(`Invalid range format for --expose: ${value}`);
  }
  return `${m[1]}${m[2] ? `-${m[2]}` : ""}/${(m[3] ?? "tcp").toLowerCase()}`;
}

/** A named cross-field rule applied after parsing. */
export interface SemanticCheck {
  name: string;
  check(opts: RunOptions): void;
}

/** Docker's cross-field rules, in the order Docker reports them. */
export const SEMANTIC_CHECKS: readonly SemanticCheck[] = [
  {
    name: "container-name",
    check(o) {
      if (o.name !== undefined && !CONTAINER_NAME_RE.test(o.name)) {
        throw new InvalidArgumentError(
          `Invalid container name (${o.name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`,
        );
      }
    },
  },
  {
    name: "memory-minimum",
    check(o) {
      if (o.memory !== undefined && o.memory > 0 && o.memory < MIN_MEMORY) {
        throw new InvalidArgumentError("Minimum memory limit allowed is 6MB");
      }
    },
  },
  {
    name: "memory-swap-needs-memory",
    check(o) {
      if (o.memorySwap !== undefined && o.memorySwap > 0 && !o.memory) {
        throw new InvalidArgumentError(
          "You should always set the Memory limit when using Memoryswap limit, see usage",
        );
      }
    },
  },
  {
    name: "memory-swap-at-least-memory",
    check(o) {
      if (o.memorySwap !== undefined && o.memorySwap > 0 && o.memory && o.memorySwap < o.memory) {
        throw new InvalidArgumentError(
          "Minimum memoryswap limit should be larger than memory limit, see usage",
        );
      }
    },
  },
  {
    name: "cpus-range",
    check(o) {
      if (o.nanoCpus === undefined || o.nanoCpus === 0) return;
      const ncpu = navigator.hardwareConcurrency || 1;
      if (o.nanoCpus < 1e7 || o.nanoCpus > ncpu * 1e9) {
        throw new InvalidArgumentError(
          `Range of CPUs is from 0.01 to ${ncpu}.00, as there are only ${ncpu} CPUs available`,
        );
      }
    },
  },
  {
    name: "cpuset-syntax",
    check(o) {
      if (o.cpusetCpus !== undefined && !/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(o.cpusetCpus)) {
        throw new InvalidArgumentError(`Invalid value ${o.cpusetCpus} for cpuset cpus`);
      }
    },
  },
  {
    name: "stop-signal",
    check(o) {
      if (o.stopSignal !== undefined && signalNumber(o.stopSignal) === undefined) {
        throw new InvalidArgumentError(`Invalid signal: ${o.stopSignal}`);
      }
    },
  },
  {
    name: "workdir-absolute",
    check(o) {
      if (o.workdir !== undefined && o.workdir !== "" && !o.workdir.startsWith("/")) {
        throw new InvalidArgumentError(
          `the working directory '${o.workdir}' is invalid, it needs to be an absolute path`,
        );
      }
    },
  },
  {
    name: "network-scoped-options",
    check(o) {
      const builtIn = o.network === "bridge" || o.network === "none" || o.network === "host" ||
        o.network.startsWith("container:");
      if (o.ip !== undefined && builtIn) {
        throw new InvalidArgumentError(
          "user specified IP address is supported on user defined networks only",
        );
      }
      if (o.networkAliases.length > 0 && builtIn) {
        throw new InvalidArgumentError(
          "network-scoped alias is supported only for containers in user defined networks",
        );
      }
      if ((o.publish.length > 0 || o.publishAll) && o.network.startsWith("container:")) {
        throw new InvalidArgumentError(
          "conflicting options: port publishing and the container type network mode",
        );
      }
      if (o.hostname !== undefined && o.network.startsWith("container:")) {
        throw new InvalidArgumentError("conflicting options: hostname and the network mode");
      }
    },
  },
  {
    name: "unique-mount-targets",
    check(o) {
      const seen = new Set<string>();
      for (const m of o.mounts) {
        if (seen.has(m.target)) {
          throw new InvalidArgumentError(`Duplicate mount point: ${m.target}`);
        }
        seen.add(m.target);
      }
    },
  },
];

/** Linux signal numbers by name (without `SIG`). */
export const SIGNALS: Record<string, number> = {
  HUP: 1,
  INT: 2,
  QUIT: 3,
  ILL: 4,
  TRAP: 5,
  ABRT: 6,
  IOT: 6,
  BUS: 7,
  FPE: 8,
  KILL: 9,
  USR1: 10,
  SEGV: 11,
  USR2: 12,
  PIPE: 13,
  ALRM: 14,
  TERM: 15,
  STKFLT: 16,
  CHLD: 17,
  CONT: 18,
  STOP: 19,
  TSTP: 20,
  TTIN: 21,
  TTOU: 22,
  URG: 23,
  XCPU: 24,
  XFSZ: 25,
  VTALRM: 26,
  PROF: 27,
  WINCH: 28,
  IO: 29,
  POLL: 29,
  PWR: 30,
  SYS: 31,
};

/** Resolves `TERM`, `SIGTERM`, `15` or `RTMIN+3` to a signal number; undefined when invalid. */
export function signalNumber(sig: string | number): number | undefined {
  if (typeof sig === "number") return sig > 0 && sig <= 64 ? sig : undefined;
  const s = sig.trim().toUpperCase();
  if (/^\d+$/.test(s)) return signalNumber(Number(s));
  const name = s.replace(/^SIG/, "");
  if (name in SIGNALS) return SIGNALS[name];
  const rt = /^RTMIN(?:\+(\d+))?$/.exec(name);
  if (rt) {
    const n = 34 + Number(rt[1] ?? 0);
    return n <= 64 ? n : undefined;
  }
  const rtmax = /^RTMAX(?:-(\d+))?$/.exec(name);
  if (rtmax) {
    const n = 64 - Number(rtmax[1] ?? 0);
    return n >= 34 ? n : undefined;
  }
  return undefined;
}
