/**
 * Image config + {@link RunOptions} → a fully defaulted {@link OciSpec}, following Docker's
 * rules (moby `daemon/oci_linux.go` and `oci/defaults.go`): Entrypoint/Cmd merge, environment,
 * user, working dir, namespaces, capabilities, masked paths, mounts, devices, resources.
 * Pure apart from reading host facts (`/dev` for privileged, hostname); side effects such as
 * creating `-v` sources live in {@link prepareBindSources}.
 *
 * @module
 */
import { InvalidArgumentError } from "../errors.ts";
import type { OciDevice, OciMount, OciResources, OciSpec } from "../runtime/oci_spec.ts";
import { resolveCapabilities } from "../security/capabilities.ts";
import { MASKED_PATHS, READONLY_PATHS } from "../security/paths.ts";
import { type EnvLookup, mergeEnv, readEnvFile, resolveEnvFlags } from "./env_file.ts";
import { type MountSpec, type RunOptions, ULIMIT_NAMES } from "./run_options.ts";
import { resolveGroupAdd, resolveUser } from "./user.ts";

/** The `config` part of an OCI/Docker image config that matters for running. */
export interface ImageRunConfig {
  User?: string;
  Env?: string[] | null;
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  WorkingDir?: string;
  Labels?: Record<string, string> | null;
  StopSignal?: string;
  ExposedPorts?: Record<string, unknown> | null;
  Volumes?: Record<string, unknown> | null;
}

/** Docker's default PATH for Linux containers. */
export const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** Per-container files bind-mounted over the rootfs's own. */
export interface EtcFilePaths {
  hostname: string;
  hosts: string;
  resolvConf: string;
}

/** Inputs of {@link buildSpec}. */
export interface BuildSpecInput {
  /** 64-hex container id. */
  id: string;
  options: RunOptions;
  image: ImageRunConfig;
  /** Reads a file of the container's rootfs (through the image layers); null when absent. */
  readRootfsFile: (path: string) => string | null;
  etcFiles: EtcFilePaths;
  /** The rootfs mount point written into `root.path`. */
  rootfsPath: string;
  /** Caller's environment for bare `-e NAME` and env-file entries; default `Deno.env`. */
  lookupEnv?: EnvLookup;
  /** cgroup path of the container; default `/docker-ts/<id>`. */
  cgroupsPath?: string;
  /** Host name for `--network host`; default `Deno.hostname()`. */
  hostHostname?: string;
  /** CPUs the host offers (`0-3,6` list form); default read from sysfs. */
  availableCpus?: string;
}

/** The command resolved from Entrypoint/Cmd/args, split as inspect shows it. */
export interface ResolvedCommand {
  entrypoint: string[] | null;
  cmd: string[] | null;
  args: string[];
}

/**
 * Docker's Entrypoint/Cmd merge: user args replace Cmd; `--entrypoint X` replaces Entrypoint and
 * drops the image's Cmd (args, if any, become the new Cmd); `--entrypoint ""` clears it.
 *
 * @example
 * ```ts
 * import { resolveCommand } from "./build_spec.ts";
 * const c = resolveCommand({ Entrypoint: ["/ep"], Cmd: ["a"] }, { cmd: ["b"] });
 * console.assert(c.args.join(" ") === "/ep b");
 * ```
 */
export function resolveCommand(
  image: Pick<ImageRunConfig, "Entrypoint" | "Cmd">,
  user: { entrypoint?: string[]; cmd?: string[] },
): ResolvedCommand {
  const userCmd = user.cmd && user.cmd.length > 0 ? user.cmd : undefined;
  let entrypoint: string[] | null;
  let cmd: string[] | null;
  if (user.entrypoint !== undefined) {
    entrypoint = user.entrypoint.length > 0 ? [...user.entrypoint] : null;
    cmd = userCmd ? [...userCmd] : null;
  } else {
    entrypoint = image.Entrypoint && image.Entrypoint.length > 0 ? [...image.Entrypoint] : null;
    cmd = userCmd ? [...userCmd] : image.Cmd && image.Cmd.length > 0 ? [...image.Cmd] : null;
  }
  const args = [...(entrypoint ?? []), ...(cmd ?? [])];
  if (args.length === 0 || args[0] === "") {
    throw new InvalidArgumentError("No command specified");
  }
  return { entrypoint, cmd, args };
}

/** Docker's environment: PATH, HOSTNAME, TERM, then image env, env files, `-e`; HOME last. */
export function buildEnv(input: {
  imageEnv: readonly string[] | null | undefined;
  options: Pick<RunOptions, "env" | "envFile" | "tty">;
  hostname: string;
  home: string;
  lookupEnv: EnvLookup;
}): string[] {
  const base = [`PATH=${DEFAULT_PATH}`, `HOSTNAME=${input.hostname}`];
  if (input.options.tty) base.push("TERM=xterm");
  const fromFiles = input.options.envFile.flatMap((f) => readEnvFile(f, input.lookupEnv));
  const fromFlags = resolveEnvFlags(input.options.env, input.lookupEnv);
  let env = mergeEnv(base, input.imageEnv ?? []);
  env = mergeEnv(env, fromFiles);
  env = mergeEnv(env, fromFlags);
  if (!env.some((e) => e.startsWith("HOME="))) env.push(`HOME=${input.home}`);
  return env;
}

const DEFAULT_DEVICES: readonly OciDevice[] = [
  { type: "c", path: "/dev/null", major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0 },
  { type: "c", path: "/dev/zero", major: 1, minor: 5, fileMode: 0o666, uid: 0, gid: 0 },
  { type: "c", path: "/dev/full", major: 1, minor: 7, fileMode: 0o666, uid: 0, gid: 0 },
  { type: "c", path: "/dev/random", major: 1, minor: 8, fileMode: 0o666, uid: 0, gid: 0 },
  { type: "c", path: "/dev/urandom", major: 1, minor: 9, fileMode: 0o666, uid: 0, gid: 0 },
  { type: "c", path: "/dev/tty", major: 5, minor: 0, fileMode: 0o666, uid: 0, gid: 0 },
];

/** Docker's device cgroup allow list for unprivileged containers (after a deny-all). */
const DEFAULT_DEVICE_RULES: NonNullable<OciResources["devices"]> = [
  { allow: false, access: "rwm" },
  { allow: true, type: "c", access: "m" },
  { allow: true, type: "b", access: "m" },
  { allow: true, type: "c", major: 1, minor: 3, access: "rwm" },
  { allow: true, type: "c", major: 1, minor: 8, access: "rwm" },
  { allow: true, type: "c", major: 1, minor: 7, access: "rwm" },
  { allow: true, type: "c", major: 5, minor: 0, access: "rwm" },
  { allow: true, type: "c", major: 1, minor: 5, access: "rwm" },
  { allow: true, type: "c", major: 1, minor: 9, access: "rwm" },
  { allow: true, type: "c", major: 5, minor: 1, access: "rwm" },
  { allow: true, type: "c", major: 136, access: "rwm" },
  { allow: true, type: "c", major: 5, minor: 2, access: "rwm" },
  { allow: true, type: "c", major: 10, minor: 200, access: "rwm" },
];

const SKIP_HOST_DEV = new Set(["/dev/pts", "/dev/shm", "/dev/mqueue", "/dev/console", "/dev/ptmx"]);

/** Every character and block device under the host's `/dev` (for `--privileged`). */
export function hostDevices(root = "/dev"): OciDevice[] {
  const out: OciDevice[] = [];
  const walk = (dir: string): void => {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(dir)];
    } catch {
      return;
    }
    for (const e of entries) {
      const p = `${dir}/${e.name}`;
      if (SKIP_HOST_DEV.has(p) || e.isSymlink) continue;
      if (e.isDirectory) {
        walk(p);
        continue;
      }
      let st: Deno.FileInfo;
      try {
        // node:fs Dirent does not report device types in Deno; Deno.FileInfo does.
        st = Deno.lstatSync(p);
      } catch {
        continue;
      }
      if (!st.isCharDevice && !st.isBlockDevice) continue;
      const rdev = st.rdev ?? 0;
      out.push({
        type: st.isCharDevice ? "c" : "b",
        path: p,
        major: (rdev >> 8) & 0xfff,
        minor: (rdev & 0xff) | ((rdev >> 12) & 0xfff00),
        fileMode: (st.mode ?? 0o600) & 0o7777,
        uid: st.uid ?? 0,
        gid: st.gid ?? 0,
      });
    }
  };
  walk(root);
  return out;
}

function baseMounts(options: RunOptions): OciMount[] {
  const sysRo = options.privileged ? [] : ["ro"];
  return [
    { destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"] },
    {
      destination: "/dev",
      type: "tmpfs",
      source: "tmpfs",
      options: ["nosuid", "strictatime", "mode=755", "size=65536k"],
    },
    {
      destination: "/dev/pts",
      type: "devpts",
      source: "devpts",
      options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
    },
    {
      destination: "/sys",
      type: "sysfs",
      source: "sysfs",
      options: ["nosuid", "noexec", "nodev", ...sysRo],
    },
    {
      destination: "/sys/fs/cgroup",
      type: "cgroup",
      source: "cgroup",
      options: ["nosuid", "noexec", "nodev", "relatime", ...sysRo],
    },
    {
      destination: "/dev/mqueue",
      type: "mqueue",
      source: "mqueue",
      options: ["nosuid", "noexec", "nodev"],
    },
    {
      destination: "/dev/shm",
      type: "tmpfs",
      source: "shm",
      options: ["nosuid", "noexec", "nodev", "mode=1777", `size=${options.shmSize}`],
    },
  ];
}

function userMount(m: MountSpec): OciMount {
  if (m.type === "bind") {
    const opts = ["rbind", m.readonly ? "ro" : "rw"];
    opts.push(m.propagation ?? "rprivate");
    return { destination: m.target, type: "bind", source: m.source, options: opts };
  }
  const opts = ["nosuid", "nodev", "noexec"];
  const extra = m.options.filter((o) => !opts.includes(o));
  if (!extra.some((o) => o.startsWith("mode="))) extra.push("mode=1777");
  return {
    destination: m.target,
    type: "tmpfs",
    source: "tmpfs",
    options: [...opts, ...extra, ...(m.readonly ? ["ro"] : [])],
  };
}

function cleanPath(p: string): string {
  const parts: string[] = [];
  for (const seg of p.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") parts.pop();
    else parts.push(seg);
  }
  return `/${parts.join("/")}`;
}

/**
 * Docker mounts the per-container files and the user's mounts shallowest first (moby sorts them
 * by the number of path separators), so `-v a:/data/sub -v b:/data` shows both and `-v x:/etc`
 * keeps the container's own `/etc/hosts` on top. Stable, so equal depths keep the user's order.
 */
function sortByDepth(mounts: OciMount[]): OciMount[] {
  const depth = (m: OciMount): number => cleanPath(m.destination).split("/").length - 1;
  return mounts
    .map((m, i) => ({ m, i, d: depth(m) }))
    .sort((a, b) => a.d - b.d || a.i - b.i)
    .map((x) => x.m);
}

function cpuList(list: string): Set<number> {
  const out = new Set<number>();
  for (const part of list.trim().split(",")) {
    if (part === "") continue;
    const [a, b] = part.split("-").map(Number);
    for (let c = a; c <= (b ?? a); c++) out.add(c);
  }
  return out;
}

function hostCpus(): string | undefined {
  // The root cpuset is what a child cgroup may take (Docker's sysinfo reads the same).
  for (const f of ["/sys/fs/cgroup/cpuset/cpuset.cpus", "/sys/fs/cgroup/cpuset.cpus.effective"]) {
    try {
      const v = Deno.readTextFileSync(f).trim();
      if (v) return v;
    } catch { /* not this layout */ }
  }
  try {
    return Deno.readTextFileSync("/sys/devices/system/cpu/online").trim();
  } catch {
    return undefined;
  }
}

/**
 * Docker refuses `--cpuset-cpus` naming CPUs the host does not have, before anything is
 * created, instead of letting the cgroup write fail with ERANGE.
 */
export function checkCpusetAvailable(requested: string, available: string | undefined): void {
  if (available === undefined) return;
  const have = cpuList(available);
  const ok = requested.split(",").every((part) => {
    const [a, b = a] = part.split("-").map(Number);
    // A range wider than the host is short of CPUs whatever it names (and is not expanded).
    if (b - a >= have.size) return false;
    for (let c = a; c <= b; c++) if (!have.has(c)) return false;
    return true;
  });
  if (!ok) {
    throw new InvalidArgumentError(
      `Requested CPUs are not available - requested ${requested}, available: ${available}`,
    );
  }
}

/**
 * Checks or creates the host sources of bind mounts as Docker does: `-v` creates a missing
 * source directory; `--mount type=bind` refuses it.
 */
export function prepareBindSources(mounts: readonly MountSpec[]): void {
  for (const m of mounts) {
    if (m.type !== "bind") continue;
    let present = true;
    try {
      Deno.statSync(m.source);
    } catch {
      present = false;
    }
    if (present) continue;
    if (!m.createSource) {
      throw new InvalidArgumentError(
        `invalid mount config for type "bind": bind source path does not exist: ${m.source}`,
      );
    }
    Deno.mkdirSync(m.source, { recursive: true, mode: 0o755 });
  }
}

/** Docker's cgroup limits from the run options. */
export function buildResources(options: RunOptions): OciResources {
  const res: OciResources = {
    devices: options.privileged
      ? [{ allow: true, access: "rwm" }]
      : DEFAULT_DEVICE_RULES.map((d) => ({ ...d })),
  };
  if (options.memory) {
    res.memory = { limit: options.memory };
    // Docker: swap unset → the same amount of swap again (memory+swap = 2×memory).
    if (options.memorySwap === undefined || options.memorySwap === 0) {
      res.memory.swap = options.memory * 2;
    } else res.memory.swap = options.memorySwap;
  }
  const cpu: NonNullable<OciResources["cpu"]> = {};
  if (options.nanoCpus) {
    cpu.period = 100000;
    cpu.quota = Math.round((options.nanoCpus * cpu.period) / 1e9);
  }
  if (options.cpuShares) cpu.shares = options.cpuShares;
  if (options.cpusetCpus) cpu.cpus = options.cpusetCpus;
  if (Object.keys(cpu).length > 0) res.cpu = cpu;
  if (options.pidsLimit !== undefined && options.pidsLimit > 0) {
    res.pids = { limit: options.pidsLimit };
  }
  return res;
}

/**
 * Builds the fully defaulted OCI spec of a container.
 *
 * @example
 * ```ts
 * import { buildSpec } from "./build_spec.ts";
 * import { parseRunOptions } from "./run_options.ts";
 * const spec = buildSpec({
 *   id: "a".repeat(64),
 *   options: parseRunOptions({ image: "busybox", cmd: ["true"] }),
 *   image: { Cmd: ["sh"] },
 *   readRootfsFile: () => null,
 *   etcFiles: { hostname: "/c/hostname", hosts: "/c/hosts", resolvConf: "/c/resolv.conf" },
 *   rootfsPath: "/c/merged",
 *   lookupEnv: () => undefined,
 * });
 * console.assert(spec.process.args[0] === "true" && spec.hostname === "aaaaaaaaaaaa");
 * ```
 */
export function buildSpec(input: BuildSpecInput): OciSpec {
  const { options, image, id } = input;
  const lookupEnv = input.lookupEnv ?? ((n: string) => Deno.env.get(n));
  const command = resolveCommand(image, options);
  const hostNetwork = options.network === "host";
  const hostname = options.hostname ??
    (hostNetwork ? (input.hostHostname ?? Deno.hostname()) : id.slice(0, 12));
  const groupFile = input.readRootfsFile("/etc/group");
  const user = resolveUser(options.user ?? (image.User || undefined), {
    passwd: input.readRootfsFile("/etc/passwd"),
    group: groupFile,
  });
  for (const gid of resolveGroupAdd(options.groupAdd ?? [], groupFile)) {
    if (!user.additionalGids.includes(gid)) user.additionalGids.push(gid);
  }
  const env = buildEnv({ imageEnv: image.Env, options, hostname, home: user.home, lookupEnv });
  const cwd = options.workdir || image.WorkingDir || "/";
  const caps = resolveCapabilities(options);
  if (options.cpusetCpus) {
    checkCpusetAvailable(options.cpusetCpus, input.availableCpus ?? hostCpus());
  }

  const etcRo = options.readOnly ? ["ro"] : ["rw"];
  const etc: [string, string][] = [
    ["/etc/resolv.conf", input.etcFiles.resolvConf],
    ["/etc/hostname", input.etcFiles.hostname],
    ["/etc/hosts", input.etcFiles.hosts],
  ];
  const userTargets = new Set(options.mounts.map((m) => cleanPath(m.target)));
  // A user mount on a default destination replaces it (e.g. `--tmpfs /dev/shm`), and one on
  // `/dev` replaces everything Docker mounts below it (moby `WithMounts`).
  const mounts = baseMounts(options).filter((x) =>
    !userTargets.has(x.destination) &&
    !(userTargets.has("/dev") && x.destination.startsWith("/dev/"))
  );
  const layered: OciMount[] = etc
    .filter(([destination]) => !userTargets.has(destination))
    .map(([destination, source]) => ({
      destination,
      type: "bind",
      source,
      options: ["rbind", "rprivate", ...etcRo],
    }));
  for (const m of options.mounts) layered.push(userMount(m));
  mounts.push(...sortByDepth(layered));

  const namespaces: OciSpec["linux"]["namespaces"] = [
    { type: "pid" },
    { type: "ipc" },
    { type: "uts" },
    { type: "mount" },
    { type: "cgroup" },
  ];
  if (!hostNetwork) namespaces.push({ type: "network" });

  const rlimits = options.ulimits.map((u) => ({
    type: ULIMIT_NAMES[u.name],
    // -1 stands for RLIM_INFINITY (the launcher maps it with BigInt.asUintN(64, -1n)).
    soft: u.soft,
    hard: u.hard,
  }));

  const spec: OciSpec = {
    ociVersion: "1.0.2",
    process: {
      terminal: options.tty,
      user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids },
      args: command.args,
      env,
      cwd,
      createCwd: true,
      capabilities: {
        bounding: [...caps],
        effective: [...caps],
        permitted: [...caps],
        inheritable: [],
        ambient: [],
      },
      noNewPrivileges: options.security.noNewPrivileges,
    },
    root: { path: input.rootfsPath, readonly: options.readOnly },
    hostname,
    mounts,
    linux: {
      namespaces,
      devices: options.privileged ? hostDevices() : DEFAULT_DEVICES.map((d) => ({ ...d })),
      cgroupsPath: input.cgroupsPath ?? `/docker-ts/${id}`,
      resources: buildResources(options),
      maskedPaths: options.privileged ? [] : [...MASKED_PATHS],
      readonlyPaths: options.privileged ? [] : [...READONLY_PATHS],
      rootfsPropagation: "rprivate",
    },
    annotations: {},
  };
  if (rlimits.length > 0) spec.process.rlimits = rlimits;
  if (options.security.seccomp) spec.annotations!["docker-ts.seccomp"] = options.security.seccomp;
  if (options.stopSignal ?? image.StopSignal) {
    spec.annotations!["org.opencontainers.image.stopSignal"] = options.stopSignal ??
      image.StopSignal!;
  }
  return spec;
}
