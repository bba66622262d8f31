/**
 * The Engine: composes the image service, the container store, the spec builder, cgroups and the
 * runtime launcher behind {@link EngineApi}. Every verb runs load → derive status → check the
 * transition → act → write facts. Heavy modules (image pull, FFI runtime) load lazily so `run`
 * pays only for what it uses.
 *
 * @module
 */
import { traceExit } from "./runtime/exit_tracer.ts";
import { procExitWatcher } from "./runtime/proc_exit_watcher.ts";
import { lazyImport } from "./util/lazy_import.ts";
import { guardSink, type OutputSink, sinkWriter, toWritable } from "./util/output_sink.ts";
import * as fs from "node:fs";
import * as path from "node:path";
import type { CgroupDriver, CgroupHandle } from "./cgroups/types.ts";
import { type ContainerRecord, ContainerStore, type StoredContainer } from "./container/store.ts";
import { newContainerId } from "./container/ids.ts";
import {
  assertCanDo,
  canDo,
  type ContainerState,
  deriveStatus,
  processAlive,
} from "./container/state.ts";
import {
  type ConsoleSize,
  ContainerExecError,
  type ContainerInspect,
  type ContainerStatus,
  type ContainerSummary,
  type CreateResult,
  type EngineApi,
  type ImageInspect,
  type ImageRemoveReport,
  type ImageSummary,
  type InspectMount,
  type LoginOptions,
  type NetworkCreateOptions,
  type NetworkInspect,
  type OutputWriteError,
  outputWriteError,
  type PullOptions,
  type RemoveOptions,
  type RunIo,
  type StartOptions,
  type TimingCallback,
  type WaitOptions,
} from "./engine_api.ts";
import {
  describeError,
  InternalError,
  InvalidArgumentError,
  InvalidStateError,
  NotFoundError,
  NotImplementedError,
} from "./errors.ts";
import { Paths } from "./paths.ts";
import { type ContainerLogs, type LogStream, parseLogOptions } from "./container/logs.ts";
import { parseRestartPolicy } from "./container/restart_policy.ts";
import { defaultSupervision, readSupervision, Supervisor } from "./container/supervisor.ts";
import type {
  ContainerStats,
  EngineEvent,
  ExecCreateOptions,
  ExecInspect,
  ExecStartOptions,
  LogEntry,
  LogsOptions,
  PruneOptions,
  PruneReport,
  SupervisionOptionsInput,
  TopResult,
} from "./engine_api.ts";
import { ExecManager } from "./engine_exec.ts";
import * as lifecycle from "./engine_lifecycle.ts";
import {
  AttachHub,
  type AttachOutcome,
  type AttachOutput,
  type ContainerAttachOptions,
  DetachKeyScanner,
  parseDetachKeys,
  runAttachSession,
} from "./container/attach_hub.ts";
import type { NetworkManager, NetworkManagerOptions } from "./network/manager.ts";
import {
  attachRequestOf,
  checkNetworkMode,
  exposedKeys,
  hostConfigPortBindings,
  joinContainerNetwork,
  networkModeKind,
  summaryPorts,
  usesBridge,
} from "./network/container_net.ts";
import type { OciSpec, RootfsMount } from "./runtime/oci_spec.ts";
import { cachedSeccompForContainer } from "./security/seccomp/cached.ts";
import type { StdioPlan } from "./runtime/stdio.ts";
import { buildSpec, type ImageRunConfig, prepareBindSources } from "./spec/build_spec.ts";
import {
  hostNetworkHostsContent,
  hostsContent,
  readHostResolvConf,
  resolvConfContent,
} from "./spec/etc_files.ts";
import {
  parseRunOptions,
  type RunOptions,
  type RunOptionsInput,
  signalNumber,
  SIGNALS,
} from "./spec/run_options.ts";
import {
  describeRootfs,
  prepareSnapshotDirs,
  readFileFromLayers,
  snapshotDirs,
} from "./storage/container_snapshot.ts";

// ---------------------------------------------------------------------------------------------
// Seams to the other parts. The real implementations load lazily; tests may inject fakes.

/** What `create` needs from the image service. */
export interface ImageForRun {
  /** `sha256:<hex>` of the image config. */
  imageId: string;
  /** The image config's `config` object (Docker shape). */
  config: ImageRunConfig;
  /** Unpacked layer directories, base layer first. */
  layerDiffDirs: string[];
}

/** The image operations the engine delegates (implemented by `ImageService`). */
export interface ImageBackend {
  resolveForRun(ref: string, options?: { platform?: string }): Promise<ImageForRun> | ImageForRun;
  pull(ref: string, options?: PullOptions): Promise<unknown>;
  // deno-lint-ignore no-explicit-any
  [method: string]: any;
}

/** Where the child's stdio goes (the runtime's `StdioPlan`). */
export interface StdioPlanLike {
  childFds: [number, number, number];
  tty?: { slavePath: string };
  closeChildEnds(): void;
  /** An engine fd the container keeps a copy of (see ContainerState.kept). */
  keep?: number;
}

/** How a container process ended. */
export interface ExitInfo {
  exitCode: number;
  signal?: string;
  /** Why the command could not be executed (docker's message), when that is how it ended. */
  error?: string;
}

/** A launched container process (the runtime's `ContainerProcess`). */
export interface ContainerProcessLike {
  pid: number;
  /** Field 22 of /proc/<pid>/stat. */
  startTime: string | number;
  /** Opens the start gate: the init drops privileges and execs the command. */
  start(): Promise<void> | void;
  /** Resolves when the process has exited (reaped). */
  exited: Promise<ExitInfo | number>;
  kill(signal?: Deno.Signal): void;
}

/** What the engine hands the launcher. */
export interface LaunchRequestLike {
  id: string;
  spec: OciSpec;
  rootfs: RootfsMount | null;
  /** Runtime-only directory of the container (`<runroot>/containers/<id>`). */
  runDir: string;
  stdio: StdioPlanLike;
  /** Called with the pid right after the spawn, before the init continues (cgroup join). */
  onSpawn?: (pid: number) => void;
  /** cgroup directories to show at the container's /sys/fs/cgroup. */
  cgroupPaths?: Readonly<Record<string, string>>;
  onTiming?: TimingCallback;
  /** The warm init to claim (its cgroup was adopted as this container's). */
  warmPid?: number;
}

/** The runtime launcher. */
export interface RuntimeBackend {
  launch(request: LaunchRequestLike): Promise<ContainerProcessLike>;
}

/** The stdio the engine gets back from the runtime (`createStdio`). */
interface StdioLike extends StdioPlanLike {
  stdin?: WritableStream<Uint8Array>;
  stdout?: ReadableStream<Uint8Array>;
  stderr?: ReadableStream<Uint8Array>;
  pty?: { resize(rows: number, cols: number): void; master?: { fd: number } };
  close(options?: { streams?: boolean }): void;
}

/** Creates stdio for a container (the runtime's `createStdio`). */
export type StdioFactory = (options: {
  stdin: "pipe" | "null";
  stdout: "pipe" | "null";
  stderr: "pipe" | "null";
  tty?: { rows: number; cols: number };
  devpts?: readonly string[];
}) => StdioLike;

/** Options of {@link Engine}. */
export interface EngineOptions {
  /** Persistent root (default `/var/lib/docker-ts`, or `DOCKER_TS_ROOT`). */
  root?: string;
  /** Runtime root (default `/run/docker-ts`). */
  runroot?: string;
  /** Test seams; default: the real implementations, loaded on first use. */
  images?: ImageBackend;
  runtime?: RuntimeBackend;
  stdio?: StdioFactory;
  /** null: no cgroups (tests without root). */
  cgroups?: CgroupDriver | null;
  /** Environment for bare `-e NAME` / env-file names (default `Deno.env`). */
  lookupEnv?: (name: string) => string | undefined;
  /** Network settings (device names, nft table, pools); tests use unique names. */
  network?: Partial<Omit<NetworkManagerOptions, "root" | "runroot">>;
  /**
   * The network of containers created without `--network` (default `bridge`). `none` is
   * dockerd's `--bridge=none`: no default bridge, no host firewall or sysctl changes.
   */
  defaultNetwork?: string;
  /**
   * Keep one container init spawned ahead of time, in fresh namespaces (a daemon does): a start
   * with the default namespaces and no terminal then skips the init's boot. See
   * `prepareWarmInit` in src/runtime/launcher.ts.
   */
  prewarm?: boolean;
}

const NEVER = "0001-01-01T00:00:00Z";

interface Live {
  proc: ContainerProcessLike;
  /** Resolves with the exit code once the process is gone, output drained and facts written. */
  done: Promise<number>;
  stdio: StdioLike;
  /** A detached `-i`/`-t` container's stdin and pty output, for `attach`. */
  hub?: AttachHub;
}

function nowIso(): string {
  return new Date().toISOString();
}

/** Docker's exit code for an exit record. */
function exitCodeOf(e: ExitInfo | number): number {
  return typeof e === "number" ? e : e.exitCode;
}

/**
 * Docker's `StdinOnce` of a container: the first attachment's end of input closes its stdin.
 * Set by `run -i` without `-d`; the run options do not record it yet, so it reads as false
 * (docker's value for `run -di`, the case attach serves).
 */
function stdinOnceOf(options: object): boolean {
  return (options as { stdinOnce?: boolean }).stdinOnce === true;
}

function errorExitCode(err: unknown): number | undefined {
  const code = (err as { exitCode?: unknown } | null)?.exitCode;
  return typeof code === "number" ? code : undefined;
}

/**
 * The container engine, in-process.
 *
 * @example
 * ```ts ignore
 * import { Engine } from "./engine.ts";
 * const engine = new Engine({ root: "/tmp/dts/root", runroot: "/tmp/dts/run" });
 * await engine.load(".fixtures/busybox.tar");
 * const code = await engine.run({ image: "busybox", cmd: ["echo", "hello"], rm: true }, {
 *   stdout: Deno.stdout.writable,
 * });
 * console.log(code); // 0
 * ```
 */
export class Engine implements EngineApi {
  readonly paths: Paths;
  readonly #store: ContainerStore;
  readonly #options: EngineOptions;
  #images?: ImageBackend;
  #runtime?: RuntimeBackend;
  #stdio?: StdioFactory;
  #cgroups?: CgroupDriver | null;
  readonly #live = new Map<string, Live>();
  /** Wakes `wait(condition=removed)` callers the moment this engine removes a container. */
  readonly #removed = new Map<string, Set<() => void>>();
  readonly #trace: boolean;
  #net?: Promise<NetworkManager>;

  constructor(options: EngineOptions = {}) {
    this.#options = options;
    this.paths = new Paths(
      options.root ?? Deno.env.get("DOCKER_TS_ROOT") ?? undefined,
      options.runroot,
    );
    this.#store = new ContainerStore(this.paths);
    this.#images = options.images;
    this.#runtime = options.runtime;
    this.#stdio = options.stdio;
    this.#cgroups = options.cgroups;
    this.#trace = Deno.env.get("DOCKER_TS_TRACE") === "1";
  }

  /** The container store (for the API server and tests). */
  get store(): ContainerStore {
    return this.#store;
  }

  /**
   * With `prewarm`: spawns the warm init now (a daemon calls this when it starts serving), after
   * removing the cgroups of warm inits a crashed engine left behind. Without: nothing.
   */
  async prewarm(): Promise<void> {
    if (!this.#options.prewarm || this.#options.runtime) return;
    const driver = await this.#cgroupDriver().catch(() => null);
    for (const name of driver?.list() ?? []) {
      const m = /\/warm-(\d+)$/.exec(name);
      // Another engine on this host may own a live one (its name is its init's pid, which may
      // not have joined it yet): only those whose init is gone and that are empty are stale.
      if (!m || processExists(Number(m[1]))) continue;
      try {
        const stale = driver!.open(name);
        if (stale.pids().length === 0) await stale.remove();
      } catch {
        // raced with its owner
      }
    }
    await this.#runtimeBackend();
    // The warm init is ready (or failed) when this resolves, as the daemon expects.
    await this.#warmInitSettled?.();
  }

  #warmInitPid?: (spec: OciSpec, tty: boolean) => number | undefined;
  #warmInitSettled?: () => Promise<void>;

  #warmCgroupName(driver: CgroupDriver, pid: number): string {
    return `${driver.parent}/warm-${pid}`;
  }

  /**
   * The container's cgroup made from the warm init's (renamed, limits applied) when a warm init
   * will be claimed; else undefined and the caller creates a fresh one.
   */
  #adoptWarmCgroup(
    driver: CgroupDriver,
    name: string,
    spec: OciSpec,
    tty: boolean,
  ): { cgroup: CgroupHandle; warmPid: number } | undefined {
    if (!driver.canAdopt) return undefined;
    const warmPid = this.#warmInitPid?.(spec, tty);
    if (warmPid === undefined) return undefined;
    try {
      return {
        cgroup: driver.adopt(this.#warmCgroupName(driver, warmPid), name, spec.linux.resources),
        warmPid,
      };
    } catch {
      return undefined;
    }
  }

  #closed = false;

  /** Releases what the engine holds outside its stores: the warm init, if any. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#runtime && this.#options.prewarm && !this.#options.runtime) {
      const { discardWarmInit } = await lazyImport<typeof import("./runtime/launcher.ts")>(
        new URL("./runtime/launcher.ts", import.meta.url),
      );
      await discardWarmInit();
    }
  }

  /** The network manager, loaded on first use (`--network none|host` never pays for it). */
  network(): Promise<NetworkManager> {
    this.#net ??= lazyImport<typeof import("./network/manager.ts")>(
      new URL("./network/manager.ts", import.meta.url),
    ).then((m) =>
      new m.NetworkManager({
        ...this.#options.network,
        root: this.paths.root,
        runroot: this.paths.runroot,
      })
    );
    return this.#net;
  }

  // -------------------------------------------------------------------------------------------
  // Lazy dependencies

  async #imageBackend(): Promise<ImageBackend> {
    if (!this.#images) {
      // Loaded on first use: `--help` and container-only verbs never pay for the image code.
      const [{ ImageService }, { LayerStore }, { HostLayerFs }] = await Promise.all([
        lazyImport<typeof import("./image/image_service.ts")>(
          new URL("./image/image_service.ts", import.meta.url),
        ),
        lazyImport<typeof import("./storage/layer_store.ts")>(
          new URL("./storage/layer_store.ts", import.meta.url),
        ),
        lazyImport<typeof import("./runtime/host_layer_fs.ts")>(
          new URL("./runtime/host_layer_fs.ts", import.meta.url),
        ),
      ]);
      const layers = new LayerStore(this.paths, new HostLayerFs());
      this.#images = new ImageService(this.paths, layers) as unknown as ImageBackend;
    }
    return this.#images;
  }

  async #runtimeBackend(): Promise<RuntimeBackend> {
    if (!this.#runtime) {
      const launcher = await lazyImport<typeof import("./runtime/launcher.ts")>(
        new URL("./runtime/launcher.ts", import.meta.url),
      );
      const { launch } = launcher;
      const prewarm = this.#options.prewarm === true;
      // The warm init joins a cgroup of its own at once, so a start renames that cgroup instead
      // of migrating the process (see CgroupDriver.adopt).
      // cgroup v2 cannot rename: there the claimed init is moved into the container's cgroup.
      const renames = (await this.#cgroupDriver().catch(() => null))?.canAdopt === true;
      const hooks = renames
        ? {
          onSpawned: async (pid: number) => {
            const driver = await this.#cgroupDriver();
            driver?.create(this.#warmCgroupName(driver, pid)).addProcess(pid);
          },
          onGone: async (pid: number) => {
            const driver = await this.#cgroupDriver();
            if (driver) await driver.open(this.#warmCgroupName(driver, pid)).remove();
          },
        }
        : {};
      // Timers set before close() may fire after it: a closed engine spawns no more.
      const prepareWarmInit = (): void => {
        if (!this.#closed) launcher.prepareWarmInit(hooks);
      };
      this.#warmInitPid = launcher.warmInitPid;
      this.#warmInitSettled = launcher.warmInitSettled;
      if (prewarm) prepareWarmInit();
      this.#runtime = {
        launch: async (req) => {
          const proc = await launch({ ...req, stdio: req.stdio as unknown as StdioPlan }).catch(
            (err) => {
              if (prewarm) prepareWarmInit();
              throw err;
            },
          );
          if (!prewarm) return proc as unknown as ContainerProcessLike;
          // The next init boots when it competes with nothing on this 2-core budget: once this
          // container has exited and been dealt with, or 100 ms after its start if it runs on.
          const start = proc.start.bind(proc);
          proc.start = () =>
            start().finally(() => {
              const later = setTimeout(prepareWarmInit, 100);
              proc.exited.finally(() => {
                clearTimeout(later);
                setTimeout(prepareWarmInit, 10);
              });
            });
          return proc as unknown as ContainerProcessLike;
        },
      };
    }
    return this.#runtime;
  }

  async #stdioFactory(): Promise<StdioFactory> {
    if (!this.#stdio) {
      const mod = await lazyImport<typeof import("./runtime/stdio.ts")>(
        new URL("./runtime/stdio.ts", import.meta.url),
      );
      this.#stdio = (o) => mod.createStdio(o) as unknown as StdioLike;
    }
    return this.#stdio;
  }

  async #cgroupDriver(): Promise<CgroupDriver | null> {
    if (this.#cgroups === undefined) {
      const mod = await lazyImport<typeof import("./cgroups/detect.ts")>(
        new URL("./cgroups/detect.ts", import.meta.url),
      );
      this.#cgroups = mod.detectCgroupDriver();
    }
    return this.#cgroups;
  }

  #timer(onTiming?: TimingCallback): (stage: string) => void {
    let last = performance.now();
    return (stage: string) => {
      const now = performance.now();
      const ms = now - last;
      last = now;
      onTiming?.(stage, ms);
      if (this.#trace) console.error(`[trace] ${stage} ${ms.toFixed(2)}ms @${now.toFixed(1)}`);
    };
  }

  /** Id of a container using the image, for `rmi`'s conflict check. */
  #imageUser(imageId: string): string | undefined {
    for (const id of this.#store.ids()) {
      try {
        if (this.#store.get(id).record.imageId === imageId) return id;
      } catch {
        // removed meanwhile
      }
    }
    return undefined;
  }

  // -------------------------------------------------------------------------------------------
  // Images (delegated)

  async #callImages<T>(method: string, ...args: unknown[]): Promise<T> {
    const images = await this.#imageBackend();
    if (typeof images[method] !== "function") {
      throw new NotImplementedError(`Cannot ${method}: the image service does not support it yet`);
    }
    return await images[method](...args) as T;
  }

  /** {@inheritDoc EngineApi.pull} */
  async pull(ref: string, options?: PullOptions): Promise<ImageSummary> {
    const result = await this.#callImages<{ imageId?: string } | ImageSummary>(
      "pull",
      ref,
      options,
    );
    if ("Id" in result) return result;
    const list = await this.listImages({ all: true });
    const found = list.find((i) => i.Id === result.imageId);
    if (!found) throw new InternalError(`Cannot find pulled image "${ref}"`);
    return found;
  }
  /** {@inheritDoc EngineApi.push} */
  push(ref: string, options?: { onProgress?: PullOptions["onProgress"] }): Promise<unknown> {
    return this.#callImages("push", ref, options);
  }
  /** {@inheritDoc EngineApi.listImages} */
  listImages(options?: { all?: boolean }): Promise<ImageSummary[]> {
    return this.#callImages("list", options);
  }
  /** {@inheritDoc EngineApi.inspectImage} */
  inspectImage(ref: string): Promise<ImageInspect> {
    return this.#callImages("inspect", ref);
  }
  /** {@inheritDoc EngineApi.tag} */
  tag(source: string, target: string): Promise<void> {
    return this.#callImages("tag", source, target);
  }
  /** {@inheritDoc EngineApi.removeImage} */
  removeImage(
    ref: string,
    options?: { force?: boolean; noPrune?: boolean },
  ): Promise<ImageRemoveReport[]> {
    return this.#callImages("remove", ref, {
      ...options,
      inUse: (imageId: string) => this.#imageUser(imageId),
    });
  }
  /** {@inheritDoc EngineApi.save} */
  save(refs: string[], output: string | WritableStream<Uint8Array>): Promise<void> {
    return this.#callImages("save", refs, output);
  }
  /** {@inheritDoc EngineApi.load} */
  load(input: string | ReadableStream<Uint8Array>): Promise<string[]> {
    return this.#callImages("load", input);
  }
  /** {@inheritDoc EngineApi.importImage} */
  importImage(
    input: string | ReadableStream<Uint8Array>,
    options?: { ref?: string; changes?: string[] },
  ): Promise<string> {
    return this.#callImages("import", input, options);
  }
  /** {@inheritDoc EngineApi.login} */
  login(options: LoginOptions): Promise<void> {
    return this.#callImages("login", options);
  }
  /** {@inheritDoc EngineApi.logout} */
  logout(server?: string): Promise<void> {
    return this.#callImages("logout", server);
  }

  // -------------------------------------------------------------------------------------------
  // Containers

  async #resolveImage(opts: RunOptions, onTiming?: TimingCallback): Promise<ImageForRun> {
    const tick = this.#timer(onTiming);
    const images = await this.#imageBackend();
    const resolve = async (): Promise<ImageForRun> =>
      await images.resolveForRun(opts.image, { platform: opts.platform });
    if (opts.pull === "always") {
      await images.pull(opts.image, { platform: opts.platform });
      tick("create.pull");
      return await resolve();
    }
    try {
      const found = await resolve();
      tick("create.image");
      return found;
    } catch (err) {
      if (!(err instanceof NotFoundError) || opts.pull === "never") throw err;
      await images.pull(opts.image, { platform: opts.platform });
      tick("create.pull");
      return await resolve();
    }
  }

  /** {@inheritDoc EngineApi.create} */
  async create(
    fullInput: RunOptionsInput & SupervisionOptionsInput,
    io: { onTiming?: TimingCallback } = {},
  ): Promise<CreateResult> {
    const tick = this.#timer(io.onTiming);
    // Restart policy and log options are supervision facts, kept beside the run options.
    const { restart, logOpts, ...input } = fullInput;
    const supervision = {
      ...defaultSupervision(),
      restartPolicy: parseRestartPolicy(restart),
      log: parseLogOptions(logOpts),
    };
    const opts = parseRunOptions(
      input.network === undefined && this.#options.defaultNetwork
        ? { ...input, network: this.#options.defaultNetwork }
        : input,
    );
    if (opts.rm && supervision.restartPolicy.Name !== "no") {
      throw new InvalidArgumentError("Conflicting options: --restart and --rm");
    }
    await checkNetworkMode(opts, () => this.network(), (ref) => this.#store.resolve(ref));
    tick("create.options");
    const image = await this.#resolveImage(opts, io.onTiming);
    tick("create.resolve");
    const id = newContainerId();
    const dir = this.#store.dir(id);
    const snap = snapshotDirs(dir);
    const etcFiles = {
      hostname: path.join(dir, "hostname"),
      hosts: path.join(dir, "hosts"),
      resolvConf: path.join(dir, "resolv.conf"),
    };
    prepareBindSources(opts.mounts);
    const spec = buildSpec({
      id,
      options: opts,
      image: image.config,
      readRootfsFile: (p) => readFileFromLayers(image.layerDiffDirs, p),
      etcFiles,
      rootfsPath: snap.merged,
      lookupEnv: this.#options.lookupEnv,
    });
    const seccomp = await cachedSeccompForContainer({
      securityOpt: opts.security.seccomp,
      privileged: opts.privileged,
      capabilities: spec.process.capabilities?.bounding ?? [],
      cacheDir: path.join(this.paths.root, "cache", "seccomp"),
    });
    if (seccomp) spec.linux.seccomp = seccomp;
    tick("create.spec");
    const hostNet = opts.network === "host";
    const readHost = (p: string): string => {
      try {
        return fs.readFileSync(p, "utf8");
      } catch {
        return "";
      }
    };
    // `--network container:X` shares X's network, and with it X's name and resolver files, as
    // docker does (it refuses --hostname, --add-host and --dns there).
    const netMode = networkModeKind(opts.network);
    const peer = netMode.kind === "container" ? this.#store.resolve(netMode.name) : undefined;
    if (peer) {
      const own = spec.hostname;
      spec.hostname = this.#store.spec(peer).hostname ?? peer.slice(0, 12);
      spec.process.env = spec.process.env.map((e) =>
        e === `HOSTNAME=${own}` ? `HOSTNAME=${spec.hostname}` : e
      );
    }
    const peerFile = (name: "hosts" | "resolvConf"): string | undefined =>
      peer ? readHost(this.#store.get(peer).record.paths[name]) || undefined : undefined;
    const files = {
      hostname: `${spec.hostname}\n`,
      hosts: peerFile("hosts") ??
        (hostNet
          ? hostNetworkHostsContent(readHost("/etc/hosts"), opts.addHosts)
          : hostsContent({ hostname: spec.hostname!, extraHosts: opts.addHosts })),
      "resolv.conf": peerFile("resolvConf") ?? resolvConfContent({
        host: readHostResolvConf(),
        hostNetwork: hostNet,
        dns: opts.dns,
        dnsSearch: opts.dnsSearch,
        dnsOptions: opts.dnsOptions,
      }),
      // Absent means the defaults: the common case pays no extra durable write.
      ...(supervision.restartPolicy.Name === "no" && supervision.log.maxSize === undefined
        ? {}
        : { "supervision.json": JSON.stringify(supervision, null, 2) + "\n" }),
    };
    const rootfs = describeRootfs(image.layerDiffDirs, dir, { readonly: opts.readOnly });
    const labels = { ...(image.config.Labels ?? {}), ...opts.labels };
    const args = spec.process.args;
    const entrypoint = opts.entrypoint !== undefined
      ? (opts.entrypoint.length ? opts.entrypoint : null)
      : (image.config.Entrypoint?.length ? image.config.Entrypoint : null);
    const cmd = args.slice(entrypoint?.length ?? 0);
    await this.#store.create({
      record: {
        id,
        image: opts.image,
        imageId: image.imageId,
        created: nowIso(),
        options: opts,
        labels,
        entrypoint,
        cmd: cmd.length ? cmd : null,
        imageConfig: {
          Env: image.config.Env ?? [],
          WorkingDir: image.config.WorkingDir ?? "",
          User: image.config.User ?? "",
          ExposedPorts: image.config.ExposedPorts ?? undefined,
        },
        rootfs,
        layerDirs: image.layerDiffDirs,
        paths: {
          dir,
          config: path.join(dir, "config.json"),
          ...etcFiles,
          upper: snap.upper,
          work: snap.work,
          merged: snap.merged,
        },
      },
      requestedName: opts.name,
      spec,
      files,
      prepare: (tmp) => prepareSnapshotDirs(tmp),
    });
    tick("create.store");
    return { Id: id, Warnings: [] };
  }

  #status(c: StoredContainer): ContainerStatus {
    return deriveStatus(c.state);
  }

  /** {@inheritDoc EngineApi.start} */
  async start(ref: string, options: StartOptions = {}): Promise<void> {
    const id = this.#store.resolve(ref);
    this.supervisor.markUserStart(id);
    await this.#startResolved(id, options);
  }

  async #startResolved(id: string, options: StartOptions): Promise<Live | undefined> {
    const tick = this.#timer(options.onTiming);
    const [runtime, makeStdio, driver] = await Promise.all([
      this.#runtimeBackend(),
      this.#stdioFactory(),
      this.#cgroupDriver(),
    ]);
    tick("start.load");
    const outcome = await this.#store.locked(id, async (): Promise<
      { live?: Live; gateError?: unknown }
    > => {
      const c = this.#store.get(id);
      const status = this.#status(c);
      // Docker answers 304 (nothing to do) for a running container.
      if (status === "running" || status === "paused") return {};
      assertCanDo("start", status, id);
      const { record } = c;
      const spec = this.#store.spec(id);
      const tty = record.options.tty;
      // Nothing attached: output goes to the container's log files (see container/logs.ts).
      const detached = !options.stdin && !options.stdout && !options.stderr;
      if (detached) await this.supervisor.logs(id).resetForStart();
      // Attached: the output is also teed into the log; the previous run's raw files are
      // converted and emptied while the container launches (awaited before the first append).
      const attachedLog = detached ? undefined : (() => {
        const logs = this.supervisor.logs(id);
        const ready = logs.resetForStart();
        ready.catch(() => {}); // a failed reset only costs this run's log, never the start
        return { logs, ready };
      })();
      // Detached with -i or -t: the engine keeps stdin (a pipe, or the pty master) and, with a
      // tty, relays the pty into the log and to `attach` clients (see container/attach_hub.ts).
      // A tty's output relayed by the engine stops if the engine dies; without one the kernel
      // writes the log files itself.
      const interactive = record.options.interactive;
      const stdinPipe = detached && !tty && interactive
        ? (await lazyImport<typeof import("./runtime/stdio.ts")>(
          new URL("./runtime/stdio.ts", import.meta.url),
        )).createStdinPipe()
        : undefined;
      const stdio = detached && !tty
        ? lifecycle.openDetachedStdio(this.supervisor.logs(id), stdinPipe) as unknown as StdioLike
        : makeStdio({
          stdin: interactive && (options.stdin || detached) ? "pipe" : "null",
          // Attached to anything: both outputs are piped, since the log keeps them all.
          stdout: options.stdout || attachedLog ? "pipe" : "null",
          stderr: options.stderr || attachedLog ? "pipe" : "null",
          tty: tty ? (options.consoleSize ?? { rows: 24, cols: 80 }) : undefined,
          // The terminal comes from the container's own devpts (its /dev/pts/0), as Docker's.
          devpts: tty ? devptsOptionsOf(spec) : undefined,
        });
      const hub = detached && (tty || interactive)
        ? new AttachHub({
          stdin: stdinPipe?.stdin ?? stdio.stdin,
          tty,
          stdinOnce: stdinOnceOf(record.options),
        })
        : undefined;
      if (hub && tty) options = { ...options, stdout: hub.output("stdout") };
      // The container keeps a copy of the engine's end so that a daemon crash neither hangs up
      // its terminal nor ends its input (src/runtime/kept_fd.ts). Not for a StdinOnce stdin:
      // its own copy would keep the EOF a client's end must deliver from ever coming.
      const kept: ContainerState["kept"] = !hub
        ? undefined
        : tty
        ? "pty"
        : stdinOnceOf(record.options)
        ? undefined
        : "stdin";
      if (kept === "pty") stdio.keep = stdio.pty?.master?.fd;
      else if (kept === "stdin") stdio.keep = stdinPipe?.writeFd;
      const relayLog = hub && tty
        ? { logs: this.supervisor.logs(id), ready: Promise.resolve() }
        : attachedLog;
      if (tty && options.consoleSize) {
        spec.process.consoleSize = {
          height: options.consoleSize.rows,
          width: options.consoleSize.cols,
        };
      }
      tick("start.stdio");
      let cgroup: CgroupHandle | undefined;
      let warmPid: number | undefined;
      const cgName = (spec.linux.cgroupsPath ?? `/docker-ts/${id}`).replace(/^\/+/, "");
      let proc: ContainerProcessLike;
      try {
        // The spec's namespaces are final before a warm init is chosen for them.
        const netMode = networkModeKind(record.options.network);
        if (netMode.kind === "container") {
          joinContainerNetwork(spec, this.#runningPid(netMode.name));
        }
        if (driver) {
          this.#cgroupGone.delete(id);
          // A warm init being spawned right now is a few ms from ready: far less than a cold one.
          await this.#warmInitSettled?.();
          const adopted = this.#adoptWarmCgroup(driver, cgName, spec, tty === true);
          cgroup = adopted?.cgroup ?? await this.#freshCgroup(driver, cgName, spec);
          warmPid = adopted?.warmPid;
          tick("start.cgroup");
        }
        const runDir = this.paths.runContainer(id);
        fs.mkdirSync(runDir, { recursive: true, mode: 0o700 });
        const net = usesBridge(record.options) ? await this.network() : undefined;
        proc = await runtime.launch({
          id,
          spec,
          rootfs: record.rootfs,
          runDir,
          stdio,
          // The netns exists once the init is spawned; its interfaces are set up before the gate.
          warmPid,
          onSpawn: cgroup || net
            ? async (pid) => {
              // A claimed warm init is in this cgroup already (adopted with it).
              if (pid !== warmPid) cgroup?.addProcess(pid);
              if (net) {
                await net.attach(attachRequestOf({
                  id,
                  name: record.name,
                  hostname: spec.hostname ?? id.slice(0, 12),
                  options: record.options,
                  imageExposed: record.imageConfig.ExposedPorts,
                  hostsFile: record.paths.hosts,
                  resolvConfFile: record.paths.resolvConf,
                }, pid));
              }
            }
            : undefined,
          cgroupPaths: cgroup?.paths,
          onTiming: options.onTiming ??
            (this.#trace
              ? (stage, ms) => console.error(`[trace] ${stage} ${ms.toFixed(2)}ms`)
              : undefined),
        });
        tick("start.launch");
      } catch (err) {
        hub?.end();
        stdio.close({ streams: true });
        await cgroup?.remove().catch(() => {});
        if (usesBridge(record.options)) await (await this.network()).detach(id).catch(() => {});
        // Under the container lock already: write the facts directly.
        this.#recordFailureLocked(id, err);
        throw this.#startError(err);
      }
      stdio.closeChildEnds();
      const state: ContainerState = {
        ...c.state,
        pid: proc.pid,
        pidStartTime: String(proc.startTime),
        startedAt: nowIso(),
        finishedAt: null,
        exitCode: null,
        oomKilled: false,
        error: "",
        paused: false,
        kept: stdio.keep !== undefined ? kept : undefined,
      };
      this.#store.writeState(id, state, { durable: !record.options.rm });
      tick("start.state");
      const live = this.#supervise(id, proc, stdio, cgroup, options, {
        log: relayLog,
        hub,
        bridged: usesBridge(record.options),
      });
      this.supervisor.track(id, live.done);
      tick("start.supervise");
      try {
        await proc.start();
        tick("start.gate");
      } catch (err) {
        return { gateError: err, live };
      }
      return { live };
    });
    if (outcome.gateError !== undefined) {
      // The init reported a failure (126/127 exec errors among them): the process is gone.
      // Its supervision needs the container lock to record the exit, so wait outside it.
      await outcome.live?.done.catch(() => {});
      await this.#store.locked(id, () => this.#recordFailureLocked(id, outcome.gateError));
      throw this.#startError(outcome.gateError);
    }
    return outcome.live;
  }

  async #freshCgroup(driver: CgroupDriver, name: string, spec: OciSpec): Promise<CgroupHandle> {
    try {
      return driver.create(name, spec.linux.resources);
    } catch (err) {
      if ((err as { kind?: string }).kind !== "Conflict") throw err;
      // Left over from a previous run of this container (engine crashed): replace it.
      await lifecycle.removeStoppedCgroup(driver.open(name));
      return driver.create(name, spec.linux.resources);
    }
  }

  #startError(err: unknown): Error {
    const code = errorExitCode(err);
    if (code === 126 || code === 127) {
      return new ContainerExecError(describeError(err), code, { cause: err });
    }
    return err instanceof Error ? err : new InternalError(String(err));
  }

  #recordFailureLocked(id: string, err: unknown): void {
    try {
      const { state: s } = this.#store.get(id);
      this.#store.writeState(id, {
        ...s,
        pid: null,
        pidStartTime: null,
        finishedAt: s.startedAt ? nowIso() : s.finishedAt,
        exitCode: errorExitCode(err) ?? 125,
        error: describeError(err),
      });
    } catch {
      // removed meanwhile
    }
  }

  #supervise(
    id: string,
    proc: ContainerProcessLike,
    stdio: StdioLike,
    cgroup: CgroupHandle | undefined,
    options: StartOptions,
    { log, hub, bridged }: {
      log?: { logs: ContainerLogs; ready: Promise<unknown> };
      hub?: AttachHub;
      /** Attached to a bridge or user network: its endpoint is detached at the exit. */
      bridged: boolean;
    },
  ): Live {
    const pumps: Promise<unknown>[] = [];
    const stdinStop = new AbortController();
    if (stdio.stdin && options.stdin) {
      pumps.push(
        options.stdin.pipeTo(stdio.stdin, { signal: stdinStop.signal, preventCancel: true }).catch(
          () => {},
        ),
      );
    }
    const outputs: [
      ReadableStream<Uint8Array> | undefined,
      WritableStream<Uint8Array> | null | undefined,
      LogStream,
    ][] = [
      [stdio.stdout, toWritable(options.stdout), "stdout"],
      [stdio.stderr, toWritable(options.stderr), "stderr"],
    ];
    for (const [from, to, stream] of outputs) {
      if (!from) continue;
      if (log) {
        pumps.push(lifecycle.pumpWithLog(from, to, { ...log, stream }));
        continue;
      }
      // The caller owns its streams: never close them (they may be the process's stdout).
      if (to) pumps.push(from.pipeTo(to, { preventClose: true }).catch(() => {}));
      else pumps.push(from.cancel().catch(() => {}));
    }
    const onAbort = (): void => {
      try {
        proc.kill("SIGKILL");
      } catch {
        // already gone
      }
    };
    options.signal?.addEventListener("abort", onAbort, { once: true });
    const done = (async (): Promise<number> => {
      let code: number;
      let execFailure: string | undefined;
      try {
        const exit = await proc.exited;
        code = exitCodeOf(exit);
        if (typeof exit === "object") execFailure = exit.error;
      } catch (err) {
        code = errorExitCode(err) ?? 125;
      }
      const tick = this.#timer();
      options.signal?.removeEventListener("abort", onAbort);
      let oom = false;
      try {
        oom = cgroup?.oomKilled() ?? false;
      } catch {
        // cgroup gone
      }
      if (oom) code = 137;
      // Output written before the exit is still in the pipes: drain it before reporting.
      await Promise.all(pumps.slice(stdio.stdin && options.stdin ? 1 : 0));
      tick("exit.drain");
      stdinStop.abort();
      // Attached clients get the last output, then their sessions end; stdin is released.
      hub?.end();
      stdio.close();
      if (cgroup) {
        // Removed here, the removal of the container need not try again.
        await cgroup.remove().then(() => this.#cgroupGone.add(id), () => {});
      }
      tick("exit.cgroup");
      // Only a bridge-mode container has an endpoint (`network connect` needs one).
      if (this.#net && bridged) await (await this.#net).detach(id).catch(() => {});
      try {
        fs.rmSync(this.paths.runContainer(id), { recursive: true, force: true });
      } catch {
        // best effort
      }
      try {
        await this.#store.updateState(id, (s) => ({
          ...s,
          pid: null,
          pidStartTime: null,
          finishedAt: nowIso(),
          exitCode: code,
          oomKilled: oom,
          ...(execFailure ? { error: execFailure } : {}),
          paused: false,
        }));
      } catch {
        // removed meanwhile (forced removal)
      }
      tick("exit.state");
      this.#live.delete(id);
      return code;
    })();
    const live: Live = { proc, done, stdio, hub };
    this.#live.set(id, live);
    return live;
  }

  /** {@inheritDoc EngineApi.run} */
  async run(input: RunOptionsInput, io: RunIo = {}): Promise<number> {
    const tick = this.#timer(io.onTiming);
    io.signal?.throwIfAborted();
    // The launch Worker boots (~10 ms) while the image and spec work runs; launch() takes it.
    const warm = this.#options.runtime
      ? undefined
      : lazyImport<typeof import("./runtime/launcher.ts")>(
        new URL("./runtime/launcher.ts", import.meta.url),
      ).then((m) => {
        m.warmLaunchWorker();
        return m;
      }, () => undefined);
    let id: string;
    try {
      ({ Id: id } = await this.create(input, { onTiming: io.onTiming }));
    } catch (err) {
      // No launch will take the spare Worker: do not leave it running.
      (await warm)?.discardLaunchWorker();
      throw err;
    }
    tick("run.create");
    const rm = this.#store.get(id).record.options.rm;
    // With onOutputError "end", the caller's stdout or stderr failing (a closed pipe) ends the
    // run with that error, as docker's CLI does; in-process nobody would be left to watch the
    // container, so it is killed (and removed, with rm) like an aborted run.
    const outputFailed = new AbortController();
    let outputError: OutputWriteError | undefined;
    const guards: { release(): void }[] = [];
    const guarded = (sink: OutputSink | null | undefined, stream: "stdout" | "stderr") => {
      if (!sink || io.onOutputError !== "end") return sink;
      const g = guardSink(sink, (err) => {
        outputError ??= outputWriteError(err, stream);
        outputFailed.abort(outputError);
        return outputError;
      });
      guards.push(g);
      return g.sink;
    };
    // Only an "end" run needs the combined signal; others pass the caller's as it is.
    let signal = io.signal;
    if (io.onOutputError === "end") {
      signal = io.signal ? AbortSignal.any([io.signal, outputFailed.signal]) : outputFailed.signal;
    }
    try {
      io.onCreated?.(id);
      io.signal?.throwIfAborted();
      const live = await this.#startResolved(id, {
        stdin: io.stdin,
        stdout: guarded(io.stdout, "stdout"),
        stderr: guarded(io.stderr, "stderr"),
        consoleSize: io.consoleSize,
        signal,
        onTiming: io.onTiming,
      });
      tick("run.start");
      const code = live ? await live.done : await this.wait(id);
      tick("run.wait");
      if (outputError) throw outputError;
      io.signal?.throwIfAborted();
      return code;
    } finally {
      for (const g of guards) g.release();
      if (rm) {
        await this.remove(id, { force: true }).catch(() => {});
        tick("run.remove");
      }
    }
  }

  /** {@inheritDoc EngineApi.wait} */
  async wait(ref: string, options: WaitOptions = {}): Promise<number> {
    const id = this.#store.resolve(ref);
    const condition = options.condition ?? "not-running";
    if (condition === "next-exit" || condition === "not-running") {
      const live = this.#live.get(id);
      if (live) return await live.done;
      let c = this.#store.get(id);
      if (
        condition === "not-running" && this.#status(c) !== "running" && this.#status(c) !== "paused"
      ) {
        // Unknown (it exited while nobody watched): -1, as inspect shows; never started: 0.
        return c.state.exitCode ?? (c.state.startedAt ? -1 : 0);
      }
      // Supervised by another process (or not yet started, for next-exit): poll the facts.
      const startedAt = c.state.startedAt;
      for (;;) {
        options.signal?.throwIfAborted();
        await new Promise((r) => setTimeout(r, 100));
        const l = this.#live.get(id);
        if (l) return await l.done;
        c = this.#store.get(id);
        const st = this.#status(c);
        const finished = st === "exited" && c.state.finishedAt !== null;
        if (
          finished &&
          (condition === "not-running" || c.state.startedAt !== startedAt ||
            c.state.exitCode !== null)
        ) {
          return c.state.exitCode ?? -1;
        }
      }
    }
    // removed
    let last = 0;
    for (;;) {
      options.signal?.throwIfAborted();
      try {
        const c = this.#store.get(id);
        last = c.state.exitCode ?? last;
      } catch {
        return last;
      }
      const l = this.#live.get(id);
      if (l) last = await l.done;
      else await this.#removalOrTimeout(id, 100);
    }
  }

  /** Resolves when this engine removes `id`, or after `ms` (removal by another process). */
  #removalOrTimeout(id: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const set = this.#removed.get(id) ?? new Set<() => void>();
      this.#removed.set(id, set);
      const done = (): void => {
        clearTimeout(timer);
        set.delete(done);
        if (set.size === 0 && this.#removed.get(id) === set) this.#removed.delete(id);
        resolve();
      };
      const timer = setTimeout(done, ms);
      set.add(done);
    });
  }

  /** {@inheritDoc EngineApi.kill} */
  kill(ref: string, signal: string | number = "KILL"): Promise<void> {
    return settle(() => {
      const id = this.#store.resolve(ref);
      const signo = signalNumber(signal);
      if (signo === undefined) throw new InvalidArgumentError(`Invalid signal: ${signal}`);
      const c = this.#store.get(id);
      // Docker names the container as the user typed it, then by its full id.
      if (!canDo("kill", this.#status(c))) {
        throw new InvalidStateError(
          `Cannot kill container: ${ref}: Container ${id} is not running`,
        );
      }
      this.supervisor.markStoppedByUser(id);
      this.#signal(id, c.state, signo);
      return { id, unreaped: signo === 9 && !this.#live.has(id) ? id : undefined };
    }).then(async ({ id, unreaped }) => {
      if (signalNumber(signal) === 9) await this.#thawAfterKill(id);
      // Not our child: nobody reaps it here, but a SIGKILL's exit code is certain.
      if (unreaped && await this.#waitGone(unreaped, 2000)) {
        await this.supervisor.noteKilled(unreaped);
      }
    });
  }

  #signal(id: string, state: ContainerState, signo: number): void {
    const name = Object.entries(SIGNALS).find(([, n]) => n === signo)?.[0];
    if (!name) {
      throw new NotImplementedError(
        `Cannot send signal ${signo}: not supported for containers of another process`,
      );
    }
    const live = this.#live.get(id);
    if (live) {
      live.proc.kill(`SIG${name}` as Deno.Signal);
      return;
    }
    // Re-adopted after a daemon restart (init's child, not ours): seize it first, so its exit
    // code comes to us rather than being lost (src/runtime/exit_tracer.ts).
    if (this.#supervisor?.needsExitTrace(id)) {
      const exit = traceExit(state.pid!);
      if (exit) this.#supervisor.traceAdopted(id, exit.then((s) => s.exitCode));
    }
    try {
      Deno.kill(state.pid!, `SIG${name}` as Deno.Signal);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }

  /**
   * A frozen process cannot act on SIGKILL until its cgroup thaws (cgroup v1 freezer), so a
   * SIGKILL to a paused container also unpauses it, as dockerd does.
   */
  async #thawAfterKill(id: string): Promise<void> {
    let c: StoredContainer;
    try {
      c = this.#store.get(id);
    } catch (err) {
      // Killed, exited and auto-removed already (--rm): the kill did its job.
      if (err instanceof NotFoundError) return;
      throw err;
    }
    if (!c.state.paused) return;
    const driver = await this.#cgroupDriver().catch(() => null);
    if (driver) {
      const name = (this.#store.spec(id).linux.cgroupsPath ?? `/docker-ts/${id}`).replace(
        /^\/+/,
        "",
      );
      try {
        await driver.open(name).thaw();
      } catch {
        // The cgroup is gone with the container: nothing left to thaw.
      }
    }
    await this.#store.locked(id, () => {
      const now = this.#store.get(id);
      this.#store.writeState(id, { ...now.state, paused: false });
    });
  }

  /** {@inheritDoc EngineApi.stop} */
  async stop(ref: string, options: { timeout?: number; signal?: string } = {}): Promise<void> {
    const id = this.#store.resolve(ref);
    const c = this.#store.get(id);
    const status = this.#status(c);
    // Docker answers 304 for a stopped container: nothing to do.
    if (status !== "running" && status !== "paused") return;
    this.supervisor.markStoppedByUser(id);
    const spec = this.#store.spec(id);
    const sigName = options.signal ?? c.record.options.stopSignal ??
      spec.annotations?.["org.opencontainers.image.stopSignal"] ??
      "SIGTERM";
    const timeout = options.timeout ?? c.record.options.stopTimeout ?? 10;
    const signo = signalNumber(sigName) ?? 15;
    if (timeout !== 0) {
      this.#signal(id, c.state, signo);
      if (await this.#waitGone(id, timeout < 0 ? Infinity : timeout * 1000)) return;
    }
    const again = this.#store.get(id);
    if (this.#status(again) === "running" || this.#status(again) === "paused") {
      this.#signal(id, again.state, 9);
      await this.#thawAfterKill(id);
      await this.#waitGone(id, Infinity);
      if (!this.#live.has(id)) await this.supervisor.noteKilled(id);
    }
  }

  /** Resolves true once the container is no longer running (within `ms`). */
  async #waitGone(id: string, ms: number): Promise<boolean> {
    const live = this.#live.get(id);
    if (live) {
      if (ms === Infinity) {
        await live.done;
        return true;
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timedOut = new Promise<false>((r) => timer = setTimeout(() => r(false), ms));
      const res = await Promise.race([live.done.then(() => true as const), timedOut]);
      clearTimeout(timer);
      return res;
    }
    const deadline = performance.now() + ms;
    while (performance.now() < deadline) {
      let c: StoredContainer;
      try {
        c = this.#store.get(id);
      } catch (err) {
        // Removed meanwhile (its daemon auto-removed it): gone indeed.
        if (err instanceof NotFoundError) return true;
        throw err;
      }
      const st = this.#status(c);
      if (st !== "running" && st !== "paused") return true;
      await new Promise((r) => setTimeout(r, 50));
    }
    return false;
  }

  /** {@inheritDoc EngineApi.remove} */
  remove(ref: string, options: RemoveOptions = {}): Promise<void> {
    let id: string;
    try {
      id = this.#store.resolve(ref);
    } catch (err) {
      return Promise.reject(err);
    }
    // An auto-remove is asked for by the supervisor and by the API's attached start at once:
    // the second caller shares the first removal instead of queueing on the container lock.
    const inFlight = this.#removing.get(id);
    if (inFlight && (inFlight.force || !options.force)) return inFlight.done;
    const done = this.#removeResolved(id, options).finally(() => {
      if (this.#removing.get(id)?.done === done) this.#removing.delete(id);
    });
    this.#removing.set(id, { done, force: options.force === true });
    return done;
  }

  readonly #removing = new Map<string, { done: Promise<void>; force: boolean }>();
  /** Containers whose cgroup this engine removed at their exit (and no start since). */
  readonly #cgroupGone = new Set<string>();

  async #removeResolved(id: string, options: RemoveOptions): Promise<void> {
    const tick = this.#timer();
    let c = this.#store.get(id);
    let status = this.#status(c);
    if ((status === "running" || status === "paused") && options.force) {
      this.#signal(id, c.state, 9);
      await this.#thawAfterKill(id);
      await this.#waitGone(id, 10_000);
      c = this.#store.get(id);
      status = this.#status(c);
    }
    assertCanDo("remove", status, id);
    tick("remove.check");
    const { purged } = await this.#store.locked(id, async () => {
      tick("remove.lock");
      const driver = this.#cgroupGone.delete(id)
        ? null
        : await this.#cgroupDriver().catch(() => null);
      if (driver) {
        const name = (this.#store.spec(id).linux.cgroupsPath ?? `/docker-ts/${id}`).replace(
          /^\/+/,
          "",
        );
        try {
          await lifecycle.removeStoppedCgroup(driver.open(name));
        } catch {
          // no cgroup left: the normal case
        }
      }
      tick("remove.cgroup");
      if (usesBridge(c.record.options)) await (await this.network()).detach(id).catch(() => {});
      fs.rmSync(this.paths.runContainer(id), { recursive: true, force: true });
      tick("remove.run");
      const purged = this.#store.deleteLater(id);
      tick("remove.delete");
      this.#supervisor?.forget(id);
      this.#exec?.forgetContainer(id);
      // Wrapped: a returned promise would be awaited under the lock.
      return { purged };
    });
    tick("remove");
    // Unlisted now: `wait --condition removed` (docker run --rm) answers while the files go.
    for (const wake of this.#removed.get(id) ?? []) wake();
    this.#removed.delete(id);
    await purged;
    tick("remove.purge");
  }

  /** {@inheritDoc EngineApi.list} */
  async list(options: { all?: boolean; size?: boolean } = {}): Promise<ContainerSummary[]> {
    const rows = this.#list(options);
    if (rows.some((r) => r.State === "running")) {
      const net = await this.network();
      for (const r of rows) {
        const ep = net.endpoint(r.Id);
        r.Ports = summaryPorts(ep);
        // A running container's networks include those it was connected to since.
        if (r.State === "running" && ep?.networks.length) {
          r.NetworkSettings = {
            Networks: Object.fromEntries(
              ep.networks.map((a) => [a.networkName, { NetworkID: a.networkId, IPAddress: a.ip }]),
            ),
          };
        }
      }
    }
    if (options.size) await this.#addSizes(rows);
    return rows;
  }

  /**
   * Docker's `size=1`: SizeRw is the bytes in the container's overlay upper dir, SizeRootFs that
   * plus the image's unpacked size. Walking upper dirs costs, so only when asked.
   */
  async #addSizes(rows: ContainerSummary[]): Promise<void> {
    const imageSizes = new Map<string, number>();
    try {
      for (const i of await this.listImages({ all: true })) imageSizes.set(i.Id, i.Size);
    } catch {
      // No image store yet: SizeRootFs falls back to SizeRw.
    }
    for (const r of rows as (ContainerSummary & { SizeRw?: number; SizeRootFs?: number })[]) {
      let upper: string;
      try {
        upper = this.#store.get(r.Id).record.paths.upper;
      } catch {
        continue; // removed meanwhile
      }
      r.SizeRw = lifecycle.dirSize(upper);
      r.SizeRootFs = r.SizeRw + (imageSizes.get(r.ImageID) ?? 0);
    }
  }

  #list(options: { all?: boolean }): ContainerSummary[] {
    const out: { created: number; row: ContainerSummary }[] = [];
    for (const id of this.#store.ids()) {
      let c: StoredContainer;
      try {
        c = this.#store.get(id);
      } catch {
        continue;
      }
      const status = this.#status(c);
      if (!options.all && status !== "running" && status !== "paused") continue;
      out.push({ created: Date.parse(c.record.created), row: this.#summary(c, status) });
    }
    // Newest first by the full creation time: `Created` has whole seconds only.
    out.sort((a, b) => b.created - a.created);
    return out.map((r) => r.row);
  }

  #summary(c: StoredContainer, status: ContainerStatus): ContainerSummary {
    const { record, state } = c;
    return {
      Id: record.id,
      Names: [`/${record.name}`],
      Image: record.image,
      ImageID: record.imageId,
      Command: [...(record.entrypoint ?? []), ...(record.cmd ?? [])].join(" "),
      Created: Math.floor(Date.parse(record.created) / 1000),
      State: status,
      Status: statusText(status, state),
      Labels: record.labels,
      Ports: [],
      Mounts: inspectMounts(record),
      HostConfig: { NetworkMode: record.options.network ?? "bridge" },
      NetworkSettings: { Networks: configuredNetworks(record.options.network ?? "bridge") },
    };
  }

  /** {@inheritDoc EngineApi.inspect} */
  async inspect(ref: string): Promise<ContainerInspect> {
    const id = this.#store.resolve(ref);
    const c = this.#store.get(id);
    const out = lifecycle.withSupervisionFacts(
      inspectOf(c, this.#status(c), this.#store.spec(id)),
      c,
      readSupervision(c.record.paths.dir),
      this.supervisor.logs(id).jsonPath,
    );
    const o = c.record.options;
    out.HostConfig.PortBindings = hostConfigPortBindings(o);
    out.NetworkSettings = (await this.network()).settings(id, {
      mode: o.network,
      exposed: exposedKeys({ options: o, imageExposed: c.record.imageConfig.ExposedPorts }),
      aliases: o.networkAliases,
    });
    return out;
  }

  /** {@inheritDoc EngineApi.resize} */
  resize(ref: string, size: ConsoleSize): Promise<void> {
    return settle(() => {
      const id = this.#store.resolve(ref);
      const c = this.#store.get(id);
      assertCanDo("resize", this.#status(c), id);
      const live = this.#live.get(id);
      const resize = live?.stdio.pty
        ? (rows: number, cols: number) => live.stdio.pty!.resize(rows, cols)
        : this.#reclaimed.get(id)?.resize;
      if (!resize) {
        throw new NotImplementedError(`Cannot resize container ${id}: it has no terminal here`);
      }
      resize(size.rows, size.cols);
    });
  }

  /**
   * Attaches to a running container: `stdin` goes to the container's stdin (a detached `-i`
   * container's pipe or `-t` container's pty, held by this engine), its output comes to
   * `stdout`/`stderr` from now on. Resolves with how it ended: `detached` (the detach keys,
   * default Ctrl-P Ctrl-Q), `exited`, `stdin-closed`, `gone` (a client write failed) or
   * `aborted`. A container this engine does not supervise (another process's, or adopted after
   * a daemon restart) is followed through its log and takes no input.
   */
  async attach(ref: string, options: ContainerAttachOptions = {}): Promise<AttachOutcome> {
    const id = this.#store.resolve(ref);
    const c = this.#store.get(id);
    const status = this.#status(c);
    if (status === "paused") {
      throw new InvalidStateError("You cannot attach to a paused container, unpause it first");
    }
    if (status !== "running") {
      throw new InvalidStateError("You cannot attach to a stopped container, start it first");
    }
    const scanner = new DetachKeyScanner(parseDetachKeys(options.detachKeys || undefined));
    const tty = c.record.options.tty;
    return await runAttachSession(this.#live.get(id)?.hub ?? this.#reclaimed.get(id)?.hub, {
      stdin: options.stdin,
      stdout: options.stdout,
      stderr: options.stderr,
      scanner,
      signal: options.signal,
      onAttached: options.onAttached,
      follow: (out, signal) => this.#followOutput(id, tty, out, signal),
    });
  }

  /** Copies the container's log from now on into `out` until it stops (or `signal`). */
  async #followOutput(
    id: string,
    tty: boolean,
    out: AttachOutput,
    signal: AbortSignal,
  ): Promise<void> {
    const stdout = out.stdout ? sinkWriter(out.stdout) : undefined;
    const stderr = tty ? stdout : out.stderr ? sinkWriter(out.stderr) : undefined;
    try {
      const entries = this.logs(id, {
        follow: true,
        tail: 0,
        stdout: stdout !== undefined,
        stderr: stderr !== undefined,
        signal,
      });
      for await (const e of entries) {
        await (e.stream === "stderr" ? stderr : stdout)?.write(e.data);
      }
    } finally {
      stdout?.release();
      if (stderr !== stdout) stderr?.release();
    }
  }

  // -------------------------------------------------------------------------------------------
  // Networks (the logic lives in src/network/manager.ts)

  /** Pid of a running container (for `--network container:<ref>`). */
  #runningPid(ref: string): number {
    const id = this.#store.resolve(ref);
    const c = this.#store.get(id);
    const st = this.#status(c);
    if ((st !== "running" && st !== "paused") || !c.state.pid) {
      throw new InvalidStateError(
        `Cannot join the network of container "${ref}": it is not running`,
      );
    }
    return c.state.pid;
  }

  /** Name of an existing container configured to use `net` (blocks its removal). */
  #networkUser(net: { id: string; name: string }): string | undefined {
    for (const id of this.#store.ids()) {
      try {
        const { record } = this.#store.get(id);
        const mode = networkModeKind(record.options.network);
        if (mode.kind === "bridge" && (mode.name === net.name || mode.name === net.id)) {
          return record.name;
        }
      } catch {
        // removed meanwhile
      }
    }
    return undefined;
  }

  /** {@inheritDoc EngineApiNetwork.createNetwork} */
  async createNetwork(options: NetworkCreateOptions): Promise<NetworkInspect> {
    const net = await this.network();
    const rec = await net.createNetwork(options);
    return await net.inspectNetwork(rec.id);
  }
  /** {@inheritDoc EngineApiNetwork.listNetworks} */
  async listNetworks(): Promise<NetworkInspect[]> {
    return await (await this.network()).listNetworks();
  }
  /** {@inheritDoc EngineApiNetwork.inspectNetwork} */
  async inspectNetwork(ref: string): Promise<NetworkInspect> {
    return await (await this.network()).inspectNetwork(ref);
  }
  /** {@inheritDoc EngineApiNetwork.removeNetwork} */
  async removeNetwork(ref: string): Promise<void> {
    await (await this.network()).removeNetwork(ref, (n) => this.#networkUser(n));
  }
  /** {@inheritDoc EngineApiNetwork.pruneNetworks} */
  async pruneNetworks(): Promise<string[]> {
    return await (await this.network()).pruneNetworks((n) => this.#networkUser(n));
  }
  /** {@inheritDoc EngineApiNetwork.connectNetwork} */
  async connectNetwork(
    network: string,
    container: string,
    options: { aliases?: string[]; ip?: string } = {},
  ): Promise<void> {
    const id = this.#store.resolve(container);
    const c = this.#store.get(id);
    const pid = this.#runningPid(id);
    await (await this.network()).connect(network, {
      containerId: id,
      name: c.record.name,
      hostname: this.#store.spec(id).hostname ?? id.slice(0, 12),
      pid,
    }, options);
  }
  /** {@inheritDoc EngineApiNetwork.disconnectNetwork} */
  async disconnectNetwork(network: string, container: string): Promise<void> {
    const id = this.#store.resolve(container);
    await (await this.network()).disconnect(network, id);
  }
  /** {@inheritDoc EngineApiNetwork.port} */
  async port(
    container: string,
  ): Promise<{ proto: "tcp" | "udp"; hostIp: string; hostPort: number; containerPort: number }[]> {
    const id = this.#store.resolve(container);
    return (await this.network()).endpoint(id)?.ports ?? [];
  }

  /**
   * Undoes network state dead containers left behind (veths, rules, addresses, DNS names) and
   * restarts the embedded DNS for running ones. Call at engine/daemon start.
   */
  async reconcileNetwork(): Promise<{ detached: string[]; releasedAddresses: number }> {
    return await (await this.network()).reconcile((id) => {
      try {
        const st = this.#status(this.#store.get(id));
        return st === "running" || st === "paused" || this.#live.has(id);
      } catch {
        return false;
      }
    });
  }

  // -------------------------------------------------------------------------------------------
  // Detached containers: supervision, logs, lifecycle verbs, exec (logic in engine_lifecycle.ts,
  // engine_exec.ts and container/supervisor.ts).

  #supervisor?: Supervisor;
  #exec?: ExecManager;

  /** The supervisor of this engine's containers (logs, exits, restart policies). */
  get supervisor(): Supervisor {
    this.#supervisor ??= new Supervisor({
      paths: this.paths,
      store: this.#store,
      startDetached: async (id) => {
        await this.#startResolved(id, {});
      },
      removeCgroup: async (id) => {
        const handle = await lifecycle.containerCgroup(this.#lifecycle(), id);
        if (handle) await lifecycle.removeStoppedCgroup(handle);
      },
      autoRemove: async (id) => {
        const tick = this.#timer();
        await this.remove(id, { force: true });
        tick("exit.autoRemove");
      },
    });
    return this.#supervisor;
  }

  #lifecycle(): lifecycle.LifecycleContext {
    return {
      paths: this.paths,
      store: this.#store,
      supervisor: this.supervisor,
      cgroupDriver: () => this.#cgroupDriver(),
      remove: (id, o) => this.remove(id, o),
    };
  }

  #execs(): ExecManager {
    this.#exec ??= new ExecManager({
      store: this.#store,
      cgroup: (id) => lifecycle.containerCgroup(this.#lifecycle(), id),
    });
    return this.#exec;
  }

  /** {@inheritDoc EngineApiDetached.logs} */
  logs(ref: string, options?: LogsOptions): AsyncIterable<LogEntry> {
    return lifecycle.containerLogs(this.#lifecycle(), this.#store.resolve(ref), options);
  }
  /** {@inheritDoc EngineApiDetached.pause} */
  async pause(ref: string): Promise<void> {
    await lifecycle.pauseContainer(this.#lifecycle(), this.#store.resolve(ref));
  }
  /** {@inheritDoc EngineApiDetached.unpause} */
  async unpause(ref: string): Promise<void> {
    await lifecycle.unpauseContainer(this.#lifecycle(), this.#store.resolve(ref));
  }
  /** {@inheritDoc EngineApiDetached.restart} */
  async restart(ref: string, options: { timeout?: number } = {}): Promise<void> {
    const id = this.#store.resolve(ref);
    await this.stop(id, options);
    await this.start(id);
    this.supervisor.emit("restart", id);
  }
  /** {@inheritDoc EngineApiDetached.top} */
  async top(ref: string, psArgs?: string): Promise<TopResult> {
    return await lifecycle.topContainer(this.#lifecycle(), this.#store.resolve(ref), psArgs);
  }
  /** {@inheritDoc EngineApiDetached.stats} */
  async stats(ref: string): Promise<ContainerStats> {
    return await lifecycle.statsContainer(this.#lifecycle(), this.#store.resolve(ref));
  }
  /** {@inheritDoc EngineApiDetached.rename} */
  async rename(ref: string, newName: string): Promise<void> {
    await lifecycle.renameContainer(this.#lifecycle(), this.#store.resolve(ref), newName);
  }
  /** {@inheritDoc EngineApiDetached.prune} */
  async prune(options?: PruneOptions): Promise<PruneReport> {
    return await lifecycle.pruneContainers(this.#lifecycle(), options);
  }
  /** {@inheritDoc EngineApiDetached.execCreate} */
  execCreate(ref: string, options: ExecCreateOptions): Promise<string> {
    return settle(() => this.#execs().create(this.#store.resolve(ref), options));
  }
  /** {@inheritDoc EngineApiDetached.execStart} */
  async execStart(execId: string, options?: ExecStartOptions): Promise<void> {
    await this.#execs().start(execId, options);
  }
  /** Resolves with an exec's exit code once it ended. */
  execWait(execId: string): Promise<number> {
    return this.#execs().wait(execId);
  }
  /** {@inheritDoc EngineApiDetached.execInspect} */
  execInspect(execId: string): Promise<ExecInspect> {
    return settle(() => this.#execs().inspect(execId));
  }
  /** {@inheritDoc EngineApiDetached.execResize} */
  execResize(execId: string, size: ConsoleSize): Promise<void> {
    return settle(() => this.#execs().resize(execId, size));
  }
  /** {@inheritDoc EngineApiDetached.events} */
  events(listener: (e: EngineEvent) => void): () => void {
    return this.supervisor.subscribe(listener);
  }
  /** {@inheritDoc EngineApiDetached.copyFrom} */
  async copyFrom(ref: string, src: string, dest: string): Promise<void> {
    await lifecycle.copyFromContainer(this.#lifecycle(), this.#store.resolve(ref), src, dest);
  }
  /** {@inheritDoc EngineApiDetached.copyTo} */
  async copyTo(ref: string, src: string, dest: string): Promise<void> {
    await lifecycle.copyToContainer(this.#lifecycle(), this.#store.resolve(ref), src, dest);
  }
  /** {@inheritDoc EngineApiDetached.statPath} */
  async statPath(ref: string, p: string): Promise<import("./engine_api.ts").ContainerPathStat> {
    return await lifecycle.statContainerPath(this.#lifecycle(), this.#store.resolve(ref), ref, p);
  }
  /** {@inheritDoc EngineApiDetached.archiveOut} */
  async archiveOut(ref: string, p: string): Promise<import("./engine_api.ts").ContainerArchive> {
    const id = this.#store.resolve(ref);
    return await lifecycle.archiveFromContainer(this.#lifecycle(), id, ref, p);
  }
  /** {@inheritDoc EngineApiDetached.archiveIn} */
  async archiveIn(
    ref: string,
    p: string,
    tar: ReadableStream<Uint8Array>,
    options?: import("./engine_api.ts").ArchiveInOptions,
  ): Promise<void> {
    const id = this.#store.resolve(ref);
    await lifecycle.archiveToContainer(this.#lifecycle(), id, ref, p, tar, options);
  }
  /** Adopted containers whose kept stdio end this engine took back (see #reclaimStdio). */
  readonly #reclaimed = new Map<
    string,
    { hub: AttachHub; resize?: (rows: number, cols: number) => void }
  >();

  /**
   * Takes back the stdin pipe or pty master an adopted container kept (ContainerState.kept) and
   * serves it as at its start: `attach`, resize and, with a pty, the relay into its log.
   */
  async #reclaimStdio(id: string, state: ContainerState, exit: Promise<unknown>): Promise<void> {
    if (!state.kept || !state.pid) return;
    const { reclaimKeptStdio } = await lazyImport<typeof import("./runtime/kept_fd.ts")>(
      new URL("./runtime/kept_fd.ts", import.meta.url),
    );
    const got = reclaimKeptStdio(state.pid, state.kept);
    if (!got) return;
    const record = this.#store.get(id).record;
    const tty = state.kept === "pty";
    const hub = new AttachHub({
      stdin: tty && !record.options.interactive ? undefined : got.stdin,
      tty,
      stdinOnce: false,
    });
    this.#reclaimed.set(id, { hub, resize: got.resize });
    if (tty && !record.options.interactive) got.stdin.close().catch(() => {});
    const finish = (): void => {
      if (this.#reclaimed.get(id)?.hub !== hub) return;
      this.#reclaimed.delete(id);
      hub.end();
    };
    if (got.output) {
      // What the container wrote while no daemon ran waited in the pty: it comes first.
      const logs = this.supervisor.logs(id);
      void lifecycle.pumpWithLog(got.output, hub.output("stdout"), {
        logs,
        stream: "stdout",
        ready: Promise.resolve(),
      }).finally(finish);
    }
    exit.then(finish, finish);
  }

  /** {@inheritDoc EngineApiDetached.recover} */
  async recover(): Promise<{ adopted: string[]; exited: string[] }> {
    const found = await this.supervisor.recover();
    // Adopted containers are init's children now: their exits reach us through the kernel's
    // process events instead of waitpid (where the kernel has them; else stop/kill still learn
    // the code through ptrace, and an exit of their own stays unknown).
    for (const id of found.adopted) {
      let state: ContainerState;
      try {
        state = this.#store.get(id).state;
      } catch {
        continue;
      }
      const exit = state.pid
        ? procExitWatcher().watch(state.pid, () => processAlive(state))
        : undefined;
      if (exit) this.supervisor.traceAdopted(id, exit.then((s) => s.exitCode));
      await this.#reclaimStdio(id, state, exit ?? new Promise(() => {})).catch(() => {});
    }
    return found;
  }
}

/** Runs a synchronous body as a promise, so callers always get rejections, never throws. */
function settle<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (err) {
    return Promise.reject(err);
  }
}

function humanDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 1) return "Less than a second";
  if (s === 1) return "1 second";
  if (s < 60) return `${s} seconds`;
  const m = Math.floor(s / 60);
  if (m === 1) return "About a minute";
  if (m < 60) return `${m} minutes`;
  const h = Math.round(m / 60);
  if (h === 1) return "About an hour";
  if (h < 48) return `${h} hours`;
  const d = Math.floor(h / 24);
  if (d < 14) return `${d} days`;
  if (d < 60) return `${Math.floor(d / 7)} weeks`;
  if (d < 730) return `${Math.floor(d / 30)} months`;
  return `${Math.floor(d / 365)} years`;
}

/** Docker's human status column. */
function statusText(status: ContainerStatus, state: ContainerState): string {
  const since = (iso: string | null): number => (iso ? Date.now() - Date.parse(iso) : 0);
  switch (status) {
    case "running":
      return `Up ${humanDuration(since(state.startedAt))}`;
    case "paused":
      return `Up ${humanDuration(since(state.startedAt))} (Paused)`;
    case "exited":
      return state.finishedAt
        ? `Exited (${state.exitCode ?? "unknown"}) ${humanDuration(since(state.finishedAt))} ago`
        : `Exited (${state.exitCode ?? "unknown"})`;
    case "created":
      return "Created";
    case "dead":
      return "Dead";
    default:
      return status;
  }
}

function inspectMounts(record: ContainerRecord): InspectMount[] {
  return record.options.mounts.map((m) => ({
    Type: m.type,
    Source: m.type === "bind" ? m.source : "",
    Destination: m.target,
    Mode: m.type === "bind" ? (m.readonly ? "ro" : "") : "",
    RW: !m.readonly,
    Propagation: m.type === "bind" ? (m.propagation ?? "rprivate") : "",
  }));
}

function inspectOf(c: StoredContainer, status: ContainerStatus, spec: OciSpec): ContainerInspect {
  const { record, state } = c;
  const o = record.options;
  const running = status === "running" || status === "paused";
  const args = spec.process.args;
  const tmpfs: Record<string, string> = {};
  for (const m of o.mounts) if (m.type === "tmpfs") tmpfs[m.target] = m.options.join(",");
  return {
    Id: record.id,
    Created: record.created,
    Path: args[0] ?? "",
    Args: args.slice(1),
    State: {
      Status: status,
      Running: status === "running" || status === "paused",
      Paused: status === "paused",
      Restarting: false,
      OOMKilled: state.oomKilled,
      Dead: status === "dead",
      Pid: running ? state.pid ?? 0 : 0,
      ExitCode: state.exitCode ?? 0,
      Error: state.error,
      StartedAt: state.startedAt ?? NEVER,
      FinishedAt: state.finishedAt ?? NEVER,
    },
    Image: record.imageId,
    ResolvConfPath: record.paths.resolvConf,
    HostnamePath: record.paths.hostname,
    HostsPath: record.paths.hosts,
    Name: `/${record.name}`,
    RestartCount: 0,
    Driver: "overlay2",
    Platform: "linux",
    HostConfig: {
      AutoRemove: o.rm,
      Binds: o.mounts.filter((m) => m.type === "bind" && m.createSource).map((m) =>
        m.type === "bind" ? `${m.source}:${m.target}${m.readonly ? ":ro" : ""}` : ""
      ),
      NetworkMode: o.network,
      Privileged: o.privileged,
      ReadonlyRootfs: o.readOnly,
      CapAdd: o.capAdd.length ? o.capAdd : null,
      GroupAdd: o.groupAdd.length ? o.groupAdd : null,
      CapDrop: o.capDrop.length ? o.capDrop : null,
      Dns: o.dns,
      DnsSearch: o.dnsSearch,
      DnsOptions: o.dnsOptions,
      ExtraHosts: o.addHosts.length ? o.addHosts.map((h) => `${h.host}:${h.ip}`) : null,
      SecurityOpt: o.security.noNewPrivileges || o.security.seccomp || o.security.other.length
        ? [
          ...(o.security.noNewPrivileges ? ["no-new-privileges"] : []),
          ...(o.security.seccomp ? [`seccomp=${o.security.seccomp}`] : []),
          ...o.security.other,
        ]
        : null,
      Tmpfs: Object.keys(tmpfs).length ? tmpfs : null,
      ShmSize: o.shmSize,
      Memory: o.memory ?? 0,
      MemorySwap: o.memorySwap ?? 0,
      NanoCpus: o.nanoCpus ?? 0,
      CpuShares: o.cpuShares ?? 0,
      CpusetCpus: o.cpusetCpus ?? "",
      PidsLimit: o.pidsLimit ?? null,
      Ulimits: o.ulimits.length
        ? o.ulimits.map((u) => ({ Name: u.name, Soft: u.soft, Hard: u.hard }))
        : null,
      PortBindings: {},
      RestartPolicy: { Name: "no", MaximumRetryCount: 0 },
      ConsoleSize: [0, 0],
    },
    Config: {
      Hostname: spec.hostname ?? "",
      User: o.user ?? record.imageConfig.User,
      Tty: o.tty,
      OpenStdin: o.interactive,
      StdinOnce: o.stdinOnce === true,
      AttachStdin: o.interactive && !o.detach,
      AttachStdout: !o.detach,
      AttachStderr: !o.detach,
      Env: spec.process.env.filter((e) =>
        !e.startsWith("HOME=") || o.env.some((x) => x.startsWith("HOME="))
      ),
      Cmd: record.cmd,
      Entrypoint: record.entrypoint,
      Image: record.image,
      WorkingDir: o.workdir ?? record.imageConfig.WorkingDir,
      Labels: record.labels,
      ...(o.stopSignal ? { StopSignal: o.stopSignal } : {}),
      ...(o.stopTimeout !== undefined ? { StopTimeout: o.stopTimeout } : {}),
      ...(record.imageConfig.ExposedPorts
        ? { ExposedPorts: record.imageConfig.ExposedPorts as Record<string, Record<string, never>> }
        : {}),
    },
    Mounts: inspectMounts(record),
    NetworkSettings: { Ports: {}, Networks: o.network === "host" ? { host: {} } : { none: {} } },
  };
}

/** Options of the spec's devpts mount at /dev/pts, if it has one. */
function devptsOptionsOf(spec: OciSpec): readonly string[] | undefined {
  return spec.mounts.find((m) => m.type === "devpts" && m.destination === "/dev/pts")?.options ??
    undefined;
}

/** The networks a container was created on, as `ps` lists them before it runs. */
function configuredNetworks(mode: string): Record<string, Record<string, unknown>> {
  const m = networkModeKind(mode);
  return m.kind === "container" ? {} : { [m.name]: {} };
}

/** Whether a process with this pid runs (a zombie, already out of its cgroups, does not). */
function processExists(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.charAt(stat.lastIndexOf(")") + 2) !== "Z";
  } catch {
    return false;
  }
}
