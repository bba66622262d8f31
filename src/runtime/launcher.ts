/**
 * Launching a container's first process (issue "run", ARCHITECTURE "How a container starts").
 *
 * ```
 * launch(req)
 *   ├─ Worker (launch_worker.ts): save pid ns → unshare/setns → posix_spawn(init) → restore pid ns
 *   │    └─ then (Linux ≥ 6.18) mounts the container's tree    ┐ in parallel with the init's
 *   ├─ req.onSpawn(pid)  ← the engine joins the cgroups here    ┘ Deno boot
 *   ├─ go byte → init: cgroup ns, pivot_root, hostname, exec lookup → "ready"
 *   └─ resolves ContainerProcess (created: init waits on the start gate)
 * proc.start()  → gate byte → init: rlimits, caps, uid/gid, no_new_privs, seccomp → execve
 * proc.exited   → the reaper's exit status (the pid never changes)
 * ```
 *
 * Errors: a setup failure rejects `launch` with a {@link LaunchError} (exit code 125, or 126/127
 * when the command cannot be found or executed — looked up before the gate, as runc does); an
 * execve failure after the gate rejects `start()` the same way. Nothing is left running on
 * failure.
 *
 * @module
 */
import { close, closeAsync, read, setNonblocking } from "../../ffi/io.ts";
import {
  closeFd,
  memfd,
  mkfifo,
  O_CLOEXEC,
  O_NONBLOCK,
  O_RDONLY,
  O_RDWR,
  O_WRONLY,
  openFd,
  pipe,
  writeFd,
} from "../../ffi/process.ts";
import { sendFds, seqpacketPair } from "../../ffi/fd_passing.ts";
import { DockerTsError, type ErrorKind, InvalidStateError } from "../errors.ts";
import {
  DEVPTS_FD,
  type InitConfig,
  type InitStatus,
  TTY_SLAVE_FD0,
  WARM,
  WARM_ARG,
} from "./init_config.ts";
import { ioLoop } from "./io_loop.ts";
import type { OciSpec, RootfsMount } from "./oci_spec.ts";
import { type ExitStatus, reaper as sharedReaper } from "./reaper.ts";
import type { StdioPlan } from "./stdio.ts";
import type {
  WorkerMountReply,
  WorkerMountRequest,
  WorkerReply,
  WorkerRequest,
} from "./launch_worker.ts";

export type { ExitStatus } from "./reaper.ts";
export type { StdioPlan } from "./stdio.ts";

/** The part of the reaper the launcher uses (src/runtime/reaper.ts). */
export interface ChildWatcher {
  /** Resolves when the child `pid` exits. */
  watch(pid: number): Promise<ExitStatus>;
}

/** Everything needed to launch a container's first process. */
export interface LaunchRequest<S extends StdioPlan = StdioPlan> {
  /** Container id (names things in errors). */
  id: string;
  /** The fully defaulted OCI spec; `root.path` is where the rootfs gets mounted. */
  spec: OciSpec;
  /** How to mount the rootfs on `spec.root.path` (null: it already is a mount point or a dir to bind). */
  rootfs: RootfsMount | null;
  /** Runtime directory of this container (the start gate fifo goes here). Must exist. */
  runDir: string;
  /** The container's stdio, from the stdio layer. */
  stdio: S;
  /** Reaps the init (FFI-spawned children are not reaped by Deno); default: the shared reaper. */
  reaper?: ChildWatcher;
  /**
   * Runs after the spawn, before the init creates its cgroup namespace and mounts the cgroup
   * view: join the container's cgroups here (write `pid` to each cgroup.procs). Joining later
   * still limits the container, but its /proc/self/cgroup then shows paths relative to the
   * engine's cgroup. A throw aborts the launch (the init is killed and reaped).
   */
  onSpawn?: (pid: number) => void | Promise<void>;
  /**
   * The container's cgroup directories (the cgroup driver's `CgroupHandle.paths`: v1 keyed by
   * hierarchy directory name, v2 by `""`). Used only without a new cgroup namespace, where they
   * are bind-mounted read-only at /sys/fs/cgroup/<key> (Docker's cgroupns=host view); with a
   * cgroup namespace the init mounts each hierarchy fresh, rooted at the container's cgroup.
   */
  cgroupPaths?: Readonly<Record<string, string>>;
  /** Receives each stage's duration (`launch.worker`, `launch.initBoot`, …, `launch.exec`). */
  onTiming?: (stage: string, milliseconds: number) => void;
  /** Deno binary for the init (default `Deno.execPath()`). */
  denoPath?: string;
  /**
   * Claim the warm init with this pid (from {@link warmInitPid}; the engine has adopted its
   * cgroup). Warm inits that joined a cgroup of their own are claimed only this way.
   */
  warmPid?: number;
}

/** How the container's process ended. */
export interface ContainerExit extends ExitStatus {
  /** Set when the init reported why it could not exec (Docker's message). */
  error?: string;
}

/** A launched container process (created; runs the command after {@link start}). */
export interface ContainerProcess<S extends StdioPlan = StdioPlan> {
  /** Host pid; stays the same through the exec. */
  readonly pid: number;
  /** Field 22 of /proc/<pid>/stat, the guard against pid reuse in state.json. */
  readonly startTime: number;
  /** The stdio the request carried. */
  readonly stdio: S;
  /** Milliseconds per launch stage (worker, unshare, spawn, initBoot, mounts, …; exec after start). */
  readonly timings: Record<string, number>;
  /** Opens the start gate; resolves once the command is exec'd, rejects with LaunchError if not. */
  start(): Promise<void>;
  /** Resolves when the process exits. */
  readonly exited: Promise<ContainerExit>;
  /**
   * Sends a signal to the process (no-op once it has exited). Before the command is exec'd the
   * process is the init, PID 1 of its pid namespace, which the kernel shields from every signal
   * it does not handle except SIGKILL: then any signal is sent as SIGKILL.
   */
  kill(signal?: Deno.Signal): void;
}

/** Docker's kind of launch failure: carries the exit code `docker run` returns (125/126/127). */
export class LaunchError extends DockerTsError {
  /** 125 engine/setup error, 126 cannot execute, 127 not found. */
  readonly exitCode: number;
  /** An error for exit code `exitCode` with a one-line `message`. */
  constructor(exitCode: number, message: string, options?: ErrorOptions) {
    const kind: ErrorKind = exitCode === 127
      ? "NotFound"
      : exitCode === 126
      ? "InvalidArgument"
      : "Internal";
    super(kind, message, options);
    this.exitCode = exitCode;
  }
}

/** Name of the start gate fifo inside the run directory. */
export const GATE_NAME = "start.fifo";

const INIT_PATH = new URL("./init.ts", import.meta.url);
const WORKER_URL = new URL("./launch_worker.ts", import.meta.url);

/**
 * The Deno arguments of the init: everything it needs, nothing that costs boot time. A warm init
 * (booted ahead, off the start's path) also runs V8 single-threaded: its execve then has two
 * fewer threads to take down (measured: execve 2.8 ms instead of 5.0 ms on 2 busy cores), for
 * ~3 ms more boot, which a cold start would pay on its path.
 */
function initArgv(deno: string, warm = false): string[] {
  return [
    deno,
    "run",
    "--allow-all",
    "--no-prompt",
    "--no-config",
    "--no-lock",
    "--quiet",
    ...(warm ? ["--v8-flags=--single-threaded"] : []),
    decodeURIComponent(INIT_PATH.pathname),
    ...(warm ? [WARM_ARG] : []),
  ];
}

function initEnv(): string[] {
  const env = ["NO_COLOR=1", "DENO_NO_UPDATE_CHECK=1", "RUST_BACKTRACE=0"];
  for (const name of ["HOME", "DENO_DIR", "DOCKER_TS_LIBC", "PATH"]) {
    const v = Deno.env.get(name);
    if (v !== undefined) env.push(`${name}=${v}`);
  }
  return env;
}

/** Reads field 22 (starttime, in clock ticks since boot) of /proc/<pid>/stat. */
export function processStartTime(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state).
  return Number(fields[19]);
}

/**
 * Sends the request; resolves the spawn answer, then (when `req.mount`) the mount answer. A
 * Worker error resolves whichever is still pending with a failure.
 */
function runWorker(
  worker: Worker,
  req: WorkerRequest,
): { spawned: Promise<WorkerReply>; mounted: Promise<WorkerMountReply> } {
  let spawnedDone = false;
  let resolveSpawned!: (r: WorkerReply) => void;
  let resolveMounted!: (r: WorkerMountReply) => void;
  const spawned = new Promise<WorkerReply>((r) => resolveSpawned = r);
  const mounted = new Promise<WorkerMountReply>((r) => resolveMounted = r);
  worker.onmessage = (ev: MessageEvent<WorkerReply | WorkerMountReply | typeof WARM>) => {
    const d = ev.data;
    if (d === WARM) return;
    if ("t" in d) {
      resolveMounted(d);
      return;
    }
    spawnedDone = true;
    resolveSpawned(d);
  };
  worker.onerror = (ev: ErrorEvent) => {
    ev.preventDefault();
    if (!spawnedDone) resolveSpawned({ ok: false, message: ev.message });
    resolveMounted({ t: "mounted", ok: false, message: ev.message });
  };
  worker.postMessage(req);
  return { spawned, mounted };
}

/** Linux ≥ 6.18: /proc accepts `pidns=`, so the Worker can mount the container's /proc. */
function kernelHasProcPidns(): boolean {
  const m = /^(\d+)\.(\d+)/.exec(Deno.osRelease());
  if (!m) return false;
  const [major, minor] = [Number(m[1]), Number(m[2])];
  return major > 6 || (major === 6 && minor >= 18);
}

/**
 * Whether the launch Worker mounts the container's tree (in parallel with the init's boot)
 * instead of the init. Not when the kernel lacks the proc `pidns=` option, nor when the view of
 * /sys/fs/cgroup must come from fresh mounts inside a new cgroup namespace without the engine's
 * cgroup dirs to bind. `DOCKER_TS_LAUNCH=two-stage` forces the init to mount (tests, debugging).
 */
export function workerMountsTree(
  spec: OciSpec,
  newCgroupNs: boolean,
  cgroupPaths: Readonly<Record<string, string>> | undefined,
): boolean {
  if (Deno.env.get("DOCKER_TS_LAUNCH") === "two-stage") return false;
  if (!kernelHasProcPidns()) return false;
  if (newCgroupNs && !cgroupPaths && spec.mounts.some((m) => m.type === "cgroup")) return false;
  return true;
}

let spare: Worker | undefined;

/**
 * Starts a launch Worker ahead of time (its ~10 ms construction and module/symbol loading then
 * overlap other work): call it when a launch is coming, e.g. at the start of `run` before the
 * image and snapshot work, or in the daemon after each launch. The next {@link launch} takes it.
 * Each Worker still serves exactly one launch. Idempotent while a spare exists.
 */
export function warmLaunchWorker(): void {
  if (spare) return;
  spare = new Worker(WORKER_URL, { type: "module" });
  spare.postMessage(WARM);
}

/** Terminates the spare launch Worker, if any (an idle engine shutting down). */
export function discardLaunchWorker(): void {
  spare?.terminate();
  spare = undefined;
}

/**
 * After a launch: a Worker back in the engine's namespaces becomes the spare (its construction
 * would cost the next launch ~8 ms of this thread); otherwise it is terminated, since its
 * thread is still inside the container's namespaces.
 */
function releaseWorker(worker: Worker, reusable: boolean): void {
  // Only a long-lived engine keeps one (a spare Worker would keep a short process alive).
  if (reusable && reuseWorkers && !spare) {
    worker.onmessage = null;
    worker.onerror = null;
    spare = worker;
  } else {
    worker.terminate();
  }
}

function takeWorker(): Worker {
  const w = spare ?? new Worker(WORKER_URL, { type: "module" });
  spare = undefined;
  return w;
}

/** Line reader over the nonblocking status pipe, driven by the shared I/O loop. */
class StatusPipe {
  #fd: number;
  #buf = "";
  #scratch = new Uint8Array(4096);
  #decoder = new TextDecoder();
  #eof = false;

  constructor(fd: number) {
    this.#fd = fd;
    setNonblocking(fd);
  }

  /** The next status line, or null at end of file (the init exec'd or died). */
  async next(): Promise<InitStatus | null> {
    for (;;) {
      const nl = this.#buf.indexOf("\n");
      if (nl !== -1) {
        const line = this.#buf.slice(0, nl);
        this.#buf = this.#buf.slice(nl + 1);
        try {
          return JSON.parse(line) as InitStatus;
        } catch {
          continue; // not ours (should not happen): skip
        }
      }
      if (this.#eof || this.#fd < 0) return null;
      const n = read(this.#fd, this.#scratch);
      if (n === null) {
        await ioLoop().waitReadable(this.#fd);
        continue;
      }
      if (n === 0) {
        this.#eof = true;
        continue;
      }
      this.#buf += this.#decoder.decode(this.#scratch.subarray(0, n), { stream: true });
    }
  }

  close(): void {
    if (this.#fd < 0) return;
    ioLoop().closeFd(this.#fd);
    this.#fd = -1;
  }
}

/** An fd on /proc/<pid>/ns/<kind>, or -1 when the process is already gone. */
function holdNamespace(pid: number, kind: string): number {
  try {
    return openFd(`/proc/${pid}/ns/${kind}`, O_RDONLY | O_CLOEXEC);
  } catch {
    return -1;
  }
}

/** Removes a file; a missing one is fine (the gate fifo is removed on several paths). */
function removeFile(p: string): void {
  try {
    Deno.removeSync(p);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
}

function tryClose(fd: number): void {
  if (fd < 0) return;
  try {
    close(fd);
  } catch {
    // already closed
  }
}

/**
 * Writes the start byte into a container's gate (used by `start()`, and by a process that did
 * not create the container, e.g. the OCI CLI's `start`). Throws InvalidStateError when no init
 * waits on it.
 */
export function openStartGate(gatePath: string): void {
  let fd: number;
  try {
    // Nonblocking: ENXIO instead of blocking forever when the init is gone.
    fd = openFd(gatePath, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  } catch (err) {
    throw new InvalidStateError(
      `Cannot start container: its init is not waiting on "${gatePath}"`,
      { cause: err },
    );
  }
  try {
    writeFd(fd, new Uint8Array([1]));
  } finally {
    closeFd(fd);
  }
}

/** An init spawned ahead of time in fresh namespaces, waiting to be told which container it is. */
interface WarmInit {
  hooks: WarmInitHooks;
  worker: Worker;
  answers: { mounted: Promise<WorkerMountReply> };
  pid: number;
  /** Our end of the SEQPACKET pair: the claim message (config + stdio fds), then the go byte. */
  sock: number;
  statusR: number;
  exited: Promise<ExitStatus>;
  dead: boolean;
}

/** The namespaces a warm init is spawned in (the cgroup namespace comes after the claim). */
const WARM_NAMESPACES = ["pid", "mount", "uts", "ipc", "network"] as const;

let warmInit: WarmInit | undefined;
let warming: Promise<void> | undefined;
/** Set by {@link prepareWarmInit} (a long-lived engine): launch Workers are kept for reuse. */
let reuseWorkers = false;

/** What the engine does with a warm init besides the launcher's part. */
export interface WarmInitHooks {
  /** Runs once it is spawned (e.g. joins a cgroup of its own); a throw discards it. */
  onSpawned?(pid: number): void | Promise<void>;
  /** Runs once an unclaimed warm init is gone (discarded or died) and reaped. */
  onGone?(pid: number): void | Promise<void>;
}

/**
 * Spawns one container init ahead of time (a daemon calls this when idle, and again after each
 * launch): its Deno boot (~15–20 ms) and the namespace creation are then off the next `start`'s
 * path. The next compatible {@link launch} claims it: it sends the init the container's config
 * and stdio over a socket, and the launch Worker that spawned it mounts the container's tree.
 * Only containers with exactly the default namespaces (pid, mount, uts, ipc, network and
 * optionally cgroup, all new), no terminal, the shared reaper and the default Deno can use it;
 * others launch cold. The init exits by itself when its socket closes ({@link discardWarmInit}
 * or the engine's death). Idempotent while one is ready or being spawned.
 */
export function prepareWarmInit(hooks: WarmInitHooks = {}): void {
  reuseWorkers = true;
  if (warmInit || warming) return;
  warming = spawnWarm(hooks).then(
    (w) => {
      warmInit = w;
    },
    () => {}, // the next launch is simply cold
  ).finally(() => warming = undefined);
}

/** Ends the warm init, if any (an engine shutting down); resolves once it is reaped. */
export async function discardWarmInit(): Promise<void> {
  reuseWorkers = false;
  await warming;
  const w = warmInit;
  warmInit = undefined;
  discardLaunchWorker();
  if (!w) return;
  await dropWarm(w);
}

/** Ends an unclaimed warm init: its socket closes, it exits, it is reaped, onGone runs. */
async function dropWarm(w: WarmInit): Promise<void> {
  tryClose(w.sock); // the init reads end-of-file and exits
  tryClose(w.statusR);
  w.worker.terminate();
  await w.exited.catch(() => undefined);
  await Promise.resolve(w.hooks.onGone?.(w.pid)).catch(() => {});
}

/** Resolves once a warm init being spawned right now is ready (or failed); at once otherwise. */
export function warmInitSettled(): Promise<void> {
  return warming ?? Promise.resolve();
}

/**
 * The pid of the warm init a launch of `spec` would claim (live, compatible), if any: the
 * engine adopts its cgroup, then passes it as {@link LaunchRequest.warmPid}.
 */
export function warmInitPid(spec: OciSpec, tty: boolean): number | undefined {
  const w = warmInit;
  if (!w || w.dead || tty || !namespacesFit(spec)) return undefined;
  return w.pid;
}

async function spawnWarm(hooks: WarmInitHooks): Promise<WarmInit> {
  const worker = takeWorker();
  const opened: number[] = [];
  try {
    const [statusR, statusW] = pipe();
    opened.push(statusR, statusW);
    const [sock, initSock] = seqpacketPair();
    opened.push(sock, initSock);
    const devNull = openFd("/dev/null", O_RDWR | O_CLOEXEC);
    opened.push(devNull);
    const deno = Deno.execPath();
    const answers = runWorker(worker, {
      namespaces: WARM_NAMESPACES.map((type) => ({ type })),
      path: deno,
      argv: initArgv(deno, true),
      env: initEnv(),
      fds: [devNull, devNull, devNull, statusW, initSock],
      warm: true,
    });
    const reply = await answers.spawned;
    for (const fd of [statusW, initSock, devNull]) tryClose(fd);
    opened.length = 0;
    opened.push(statusR, sock);
    if (!reply.ok) throw new Error(reply.message);
    const w: WarmInit = {
      hooks,
      worker,
      answers,
      pid: reply.pid,
      sock,
      statusR,
      exited: Promise.resolve({ exitCode: 0 } as ExitStatus),
      dead: false,
    };
    w.exited = sharedReaper().watch(reply.pid).then((st) => {
      w.dead = true;
      // Died unclaimed (OOM, a kill): the next launch is cold, the next prepare replaces it.
      if (warmInit === w) {
        warmInit = undefined;
        void dropWarm(w);
      }
      return st;
    });
    try {
      await hooks.onSpawned?.(reply.pid);
    } catch (err) {
      try {
        Deno.kill(reply.pid, "SIGKILL");
      } catch { /* gone */ }
      await dropWarm(w);
      throw err;
    }
    return w;
  } catch (err) {
    worker.terminate();
    for (const fd of opened) tryClose(fd);
    throw err;
  }
}

function warmCompatible<S extends StdioPlan>(req: LaunchRequest<S>): boolean {
  if (req.reaper || req.denoPath || req.stdio.tty) return false;
  return namespacesFit(req.spec);
}

/** Exactly the default namespaces, all new (the cgroup one is optional: made after the claim). */
function namespacesFit(spec: OciSpec): boolean {
  const ns = spec.linux.namespaces;
  if (ns.some((n) => n.path)) return false;
  const types = new Set(ns.map((n) => n.type).filter((t) => t !== "cgroup"));
  return types.size === WARM_NAMESPACES.length && WARM_NAMESPACES.every((t) => types.has(t));
}

/** Takes the warm init for this request, when there is a live, compatible one. */
function claimWarm<S extends StdioPlan>(req: LaunchRequest<S>): WarmInit | undefined {
  const w = warmInit;
  if (!w || !warmCompatible(req)) return undefined;
  // One that joined its own cgroup goes only to the start that adopted that cgroup.
  if (w.hooks.onSpawned && req.warmPid !== w.pid) return undefined;
  warmInit = undefined;
  if (w.dead) {
    void dropWarm(w);
    return undefined;
  }
  return w;
}

/** The init, spawned (cold) or claimed (warm), before the engine's onSpawn hook. */
interface SpawnedInit {
  pid: number;
  worker: Worker;
  mounted: Promise<WorkerMountReply>;
  statusR: number;
  /** Where the go byte is written (a pipe, or the warm init's socket). */
  goFd: number;
  /** The reaper's promise for this pid. */
  exitStatus: Promise<ExitStatus>;
  /** Wall-clock ms when it was spawned (undefined: warm, its boot was not on this path). */
  spawnedWall?: number;
  /** Without a mount step: the Worker is back home and can serve another launch. */
  reusable?: boolean;
}

/** Writes the config into a fresh memfd (the init reads it through /proc/self/fd). */
function configMemfd(config: InitConfig): number {
  const fd = memfd("docker-ts-init-config");
  try {
    writeFd(fd, new TextEncoder().encode(JSON.stringify(config)));
  } catch (err) {
    closeFd(fd);
    throw err;
  }
  return fd;
}

async function spawnCold<S extends StdioPlan>(
  req: LaunchRequest<S>,
  worker: Worker,
  config: InitConfig,
  timings: Record<string, number>,
): Promise<SpawnedInit> {
  const fds: number[] = [];
  const devptsFd = req.stdio.tty?.devptsFd;
  try {
    const configFd = configMemfd(config);
    fds.push(configFd);
    const [statusR, statusW] = pipe();
    fds.push(statusR, statusW);
    const [goR, goW] = pipe();
    fds.push(goR, goW);
    const answers = runWorker(worker, {
      namespaces: req.spec.linux.namespaces,
      path: req.denoPath ?? Deno.execPath(),
      argv: initArgv(req.denoPath ?? Deno.execPath()),
      env: initEnv(),
      // Index 6 (KEEP_SRC_FD): what the container keeps at KEPT_FD, if anything; index 7
      // (DEVPTS_FD): its devpts instance (6 is then a spare copy when nothing is kept).
      fds: [
        ...req.stdio.childFds,
        statusW,
        goR,
        configFd,
        ...(devptsFd !== undefined
          ? [req.stdio.keep ?? devptsFd, devptsFd]
          : req.stdio.keep !== undefined
          ? [req.stdio.keep]
          : []),
      ],
      // A slave of the container's own devpts has no path here: reopened through its fd.
      ttySlave: devptsFd !== undefined ? TTY_SLAVE_FD0 : req.stdio.tty?.slavePath,
      mount: config.premounted ? config : undefined,
    });
    const reply = await answers.spawned;
    req.stdio.closeChildEnds();
    for (const fd of [statusW, goR, configFd]) tryClose(fd);
    fds.length = 0;
    fds.push(statusR, goW);
    if (!reply.ok) {
      throw new LaunchError(125, `Cannot launch container "${req.id}": ${reply.message}`);
    }
    timings.unshare = reply.timings.unshare;
    timings.spawn = reply.timings.spawn;
    return {
      pid: reply.pid,
      worker,
      mounted: answers.mounted,
      statusR,
      goFd: goW,
      exitStatus: (req.reaper ?? sharedReaper()).watch(reply.pid),
      spawnedWall: performance.timeOrigin + performance.now(),
      reusable: reply.reusable,
    };
  } catch (err) {
    for (const fd of fds) tryClose(fd);
    throw err;
  }
}

function useWarm<S extends StdioPlan>(
  req: LaunchRequest<S>,
  w: WarmInit,
  config: InitConfig,
): SpawnedInit {
  const configFd = configMemfd(config);
  try {
    sendFds(w.sock, new Uint8Array([1]), [
      configFd,
      ...req.stdio.childFds,
      ...(req.stdio.keep !== undefined ? [req.stdio.keep] : []),
    ]);
  } finally {
    closeFd(configFd);
  }
  req.stdio.closeChildEnds();
  if (config.premounted) w.worker.postMessage({ t: "mount", config } satisfies WorkerMountRequest);
  return {
    pid: w.pid,
    worker: w.worker,
    mounted: w.answers.mounted,
    statusR: w.statusR,
    goFd: w.sock,
    exitStatus: w.exited,
  };
}

/**
 * Launches the container's init inside new namespaces and waits until it is set up and waiting
 * on its start gate. See the module doc for the sequence and the error contract.
 */
export async function launch<S extends StdioPlan>(
  req: LaunchRequest<S>,
): Promise<ContainerProcess<S>> {
  const t0 = performance.now();
  const timings: Record<string, number> = {};
  const mark = (name: string, since: number): number => {
    const now = performance.now();
    timings[name] = now - since;
    return now;
  };
  let warm = claimWarm(req);
  // A warm Worker if there is one; else a new one boots while we prepare.
  let worker = warm ? warm.worker : takeWorker();
  let gatePath = "";
  let premounted = false;
  let spawned: SpawnedInit | undefined;
  try {
    const ns = req.spec.linux.namespaces;
    if (!ns.some((n) => n.type === "mount" && !n.path)) {
      throw new LaunchError(
        125,
        `Cannot launch container "${req.id}": it needs a new mount namespace`,
      );
    }
    gatePath = `${req.runDir.replace(/\/+$/, "")}/${GATE_NAME}`;
    removeFile(gatePath);
    mkfifo(gatePath, 0o600);
    const newCgroupNs = ns.some((n) => n.type === "cgroup" && !n.path);
    premounted = workerMountsTree(req.spec, newCgroupNs, req.cgroupPaths);
    const rootPath = req.spec.root.path;
    const config: InitConfig = {
      // The Worker and the init must agree on one absolute root path.
      spec: rootPath.startsWith("/")
        ? req.spec
        : { ...req.spec, root: { ...req.spec.root, path: `${Deno.cwd()}/${rootPath}` } },
      rootfs: req.rootfs,
      gatePath,
      newCgroupNs,
      consolePath: req.stdio.tty?.slavePath,
      ...(req.stdio.tty?.devptsFd !== undefined
        ? { devptsFd: premounted ? req.stdio.tty.devptsFd : DEVPTS_FD }
        : {}),
      cgroupPaths: req.cgroupPaths,
      premounted,
      ...(req.stdio.keep !== undefined ? { keep: true } : {}),
    };
    const t = mark("prepare", t0);
    if (warm) {
      try {
        spawned = useWarm(req, warm, config);
      } catch {
        // It died between the check and the claim: launch cold instead.
        void dropWarm(warm);
        warm = undefined;
        worker = takeWorker();
      }
    }
    spawned ??= await spawnCold(req, worker, config, timings);
    mark(warm ? "claim" : "worker", t);
    if (!warm) timings.worker -= timings.unshare + timings.spawn;
  } catch (err) {
    worker.terminate();
    if (warm) {
      tryClose(warm.sock);
      tryClose(warm.statusR);
    }
    if (gatePath) removeFile(gatePath);
    throw err;
  }
  let t = performance.now();
  const { pid, statusR, goFd } = spawned;
  const status = new StatusPipe(statusR);
  let exitedFlag = false;
  let execError: string | undefined;
  /** Settles when the status pipe told how the exec went (set by start()). */
  let execReported: Promise<unknown> | undefined;
  // Holding the container's mount namespace keeps its teardown (unmounting the whole tree waits
  // for an RCU grace period) out of the container's exit: the engine learns of the exit at once,
  // and the namespace goes when this fd is closed, on a pool thread.
  const mntFd = holdNamespace(pid, "mnt");
  const exited: Promise<ContainerExit> = spawned.exitStatus.then(async (s) => {
    exitedFlag = true;
    if (mntFd >= 0) void closeAsync(mntFd);
    // The init reports an exec failure, then exits: the report may be read after the reap.
    await execReported?.catch(() => {});
    return execError ? { ...s, error: execError } : s;
  });
  const abort = async (err: unknown): Promise<never> => {
    if (!exitedFlag) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    worker.terminate();
    status.close();
    await exited.catch(() => undefined);
    removeFile(gatePath);
    throw err;
  };

  let reusable = spawned.reusable === true;
  try {
    // The cgroup join runs here while the Worker mounts and the init boots.
    if (req.onSpawn) await req.onSpawn(pid);
    if (premounted) {
      const tm = performance.now();
      const m = await spawned.mounted;
      timings.mountWait = performance.now() - tm;
      if (!m.ok) throw new Error(m.message);
      timings.mounts = m.ms;
      reusable = m.reusable === true;
    }
    writeFd(goFd, new Uint8Array([1]));
  } catch (err) {
    tryClose(goFd);
    return await abort(
      new LaunchError(125, `Cannot launch container "${req.id}": ${(err as Error).message}`, {
        cause: err,
      }),
    );
  }
  tryClose(goFd);
  releaseWorker(worker, reusable);
  t = mark("onSpawn", t);

  const first = await status.next();
  if (first === null || first.t !== "ready") {
    if (first?.t === "error") {
      status.close();
      await exited;
      removeFile(gatePath);
      throw new LaunchError(first.exitCode, first.message);
    }
    const s = await exited;
    status.close();
    removeFile(gatePath);
    throw new LaunchError(
      125,
      `Cannot launch container "${req.id}": its init exited during setup (exit code ${s.exitCode})`,
    );
  }
  // The init reports wall-clock stage ends; the spawn time is ours.
  const it = first.timings;
  timings.initBoot = spawned.spawnedWall === undefined ? 0 : it.main - spawned.spawnedWall;
  // Premounted: the Worker's mount time was recorded above; here the init waited for go.
  timings[premounted ? "goWait" : "mounts"] = it.mounts - it.main;
  timings.pivot = it.pivot - it.mounts;
  timings.setup = it.setup - it.pivot;
  timings.ready = performance.timeOrigin + performance.now() - it.ready;
  const startTime = processStartTime(pid);
  timings.total = performance.now() - t0;
  if (req.onTiming) {
    for (const [k, v] of Object.entries(timings)) req.onTiming(`launch.${k}`, v);
  }

  let started = false;
  let execDone = false;
  const proc: ContainerProcess<S> = {
    pid,
    startTime,
    stdio: req.stdio,
    timings,
    exited,
    kill(signal: Deno.Signal = "SIGTERM"): void {
      if (exitedFlag) return;
      try {
        Deno.kill(pid, execDone ? signal : "SIGKILL");
      } catch {
        // raced with the exit
      }
    },
    async start(): Promise<void> {
      if (started) throw new InvalidStateError(`Container "${req.id}" is already started`);
      started = true;
      const ts = performance.now();
      try {
        openStartGate(gatePath);
      } catch (err) {
        status.close();
        throw err;
      }
      removeFile(gatePath);
      const wallStart = performance.timeOrigin + ts;
      const reported = (async () => {
        let msg = await status.next();
        if (msg?.t === "exec") {
          // The init's own split: gate wake-up, credentials (seccomp, caps, fds), then execve
          // (until the status pipe closes on exec, or an error arrives).
          const credsAt = msg.timings.creds;
          // Preparations still running when the gate opened delay the exec: counted apart.
          timings.prepareLate = Math.max(0, msg.timings.prepared - wallStart);
          timings.gateWake = msg.timings.gate - Math.max(wallStart, msg.timings.prepared);
          timings.creds = credsAt - msg.timings.gate;
          msg = await status.next();
          timings.execve = performance.timeOrigin + performance.now() - credsAt;
        }
        return msg;
      })().then((msg) => {
        status.close();
        timings.exec = performance.now() - ts;
        for (const k of ["prepareLate", "gateWake", "creds", "execve"] as const) {
          if (timings[k] !== undefined) req.onTiming?.(`launch.${k}`, timings[k]);
        }
        req.onTiming?.("launch.exec", timings.exec);
        execDone = true;
        if (msg?.t === "error") {
          execError = msg.message;
          throw new LaunchError(msg.exitCode, msg.message);
        }
      });
      execReported = reported;
      await reported;
    },
  };
  return proc;
}
