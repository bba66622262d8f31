/**
 * `docker-ts daemon`: an {@link Engine} plus the Docker Engine API server on a unix socket.
 *
 * ```sh
 * deno run -A src/api/daemon.ts -H unix:///run/docker-ts/docker-ts.sock --root /var/lib/docker-ts
 * DOCKER_HOST=unix:///run/docker-ts/docker-ts.sock docker version
 * ```
 *
 * @module
 */
import { lazyImport } from "../util/lazy_import.ts";
import { guardInspectorSignal } from "../runtime/inspector_guard.ts";
import * as path from "node:path";
import { describeError, InvalidArgumentError } from "../errors.ts";
import type { EngineApi } from "../engine_api.ts";
import { DEFAULT_ROOT, DEFAULT_RUNROOT, Paths } from "../paths.ts";
import { atomicWriteFileSync } from "../util/atomic_write.ts";
import { type ApiServer, serveApi } from "./api_server.ts";

/** Default socket, as the issue names it. */
export const DEFAULT_SOCKET = "/run/docker-ts/docker-ts.sock";

/** Parsed daemon flags. */
export interface DaemonOptions {
  /** Unix socket path (from `-H unix://PATH`). */
  socketPath: string;
  root: string;
  runroot: string;
  /** Socket mode (default 0o660). */
  mode?: number;
  /**
   * Exit after this many milliseconds with no running container and no open connection
   * (`--idle-exit 30s`; what auto-start passes). Undefined: run until signalled.
   */
  idleExitMs?: number;
  /** Network of containers created without `--network` (`--bridge none` → `none`). */
  defaultNetwork?: string;
}

/**
 * Parses a Go-style duration (`30s`, `500ms`, `2m`, `1h`) or plain seconds into milliseconds.
 *
 * @example
 * ```ts
 * import { parseDuration } from "./daemon.ts";
 * console.assert(parseDuration("1m30s") === 90_000 && parseDuration("5") === 5000);
 * ```
 */
export function parseDuration(v: string): number {
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let m: RegExpExecArray | null;
  let end = 0;
  while ((m = re.exec(v)) !== null) {
    total += Number(m[1]) * units[m[2]];
    end = re.lastIndex;
  }
  if (end !== v.length || v === "") {
    throw new InvalidArgumentError(`Invalid duration "${v}": use forms like 30s, 500ms or 2m`);
  }
  return total;
}

const USAGE = `Usage:  docker-ts daemon [OPTIONS]

Run the docker-ts engine with a Docker Engine API server on a unix socket

Options:
  -H, --host string      Daemon socket to listen on (default "unix://${DEFAULT_SOCKET}")
      --root string      Root of persistent state (default "${DEFAULT_ROOT}")
      --runroot string   Root of runtime state (default "${DEFAULT_RUNROOT}")
  -b, --bridge string    Default network of new containers: "none" keeps the host's
                         firewall and default bridge untouched (default "bridge")
      --idle-exit string Exit after this long with no running container and no client
                         (e.g. 30s; what auto-start uses)
`;

/**
 * Parses the daemon's flags (`-H unix://PATH`, `--root`, `--runroot`, `--flag=value` forms).
 *
 * @example
 * ```ts
 * import { parseDaemonArgs } from "./daemon.ts";
 * const o = parseDaemonArgs(["-H", "unix:///tmp/d.sock", "--root=/tmp/r"]);
 * console.assert(o.socketPath === "/tmp/d.sock" && o.root === "/tmp/r");
 * ```
 */
export function parseDaemonArgs(
  args: readonly string[],
  env: (name: string) => string | undefined = (n) => Deno.env.get(n),
): DaemonOptions {
  let host: string | undefined;
  let root = env("DOCKER_TS_ROOT") || DEFAULT_ROOT;
  let runroot = DEFAULT_RUNROOT;
  // DOCKER_TS_DEFAULT_NETWORK=none is what the in-process CLI honours too.
  let defaultNetwork: string | undefined = env("DOCKER_TS_DEFAULT_NETWORK") === "none"
    ? "none"
    : undefined;
  let idleExitMs: number | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const eq = arg.startsWith("--") ? arg.indexOf("=") : -1;
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const value = (): string => {
      if (eq > 0) return arg.slice(eq + 1);
      const v = args[++i];
      if (v === undefined) throw new InvalidArgumentError(`flag needs an argument: ${name}`);
      return v;
    };
    switch (name) {
      case "-H":
      case "--host":
        host = value();
        break;
      case "--root":
      case "--data-root":
        root = value();
        break;
      case "--runroot":
      case "--exec-root":
        runroot = value();
        break;
      case "-b":
      case "--bridge": {
        const v = value();
        // dockerd's `--bridge=none`; any other value keeps the default bridge.
        defaultNetwork = v === "none" ? "none" : undefined;
        break;
      }
      case "--idle-exit":
        idleExitMs = parseDuration(value());
        break;
      default:
        throw new InvalidArgumentError(`unknown flag: ${name}`);
    }
  }
  let socketPath = DEFAULT_SOCKET;
  if (host !== undefined) {
    if (!host.startsWith("unix://")) {
      throw new InvalidArgumentError(
        `Invalid daemon host "${host}": only unix:// sockets are supported`,
      );
    }
    socketPath = host.slice("unix://".length);
    if (!socketPath.startsWith("/")) {
      throw new InvalidArgumentError(`Invalid daemon host "${host}": the path must be absolute`);
    }
  }
  return {
    socketPath,
    root: path.resolve(root),
    runroot: path.resolve(runroot),
    ...(defaultNetwork ? { defaultNetwork } : {}),
    ...(idleExitMs !== undefined ? { idleExitMs } : {}),
  };
}

/**
 * Creates the engine the daemon serves. The image service gets its layer store here because
 * the engine's lazy default constructs it without one.
 */
export async function createDaemonEngine(
  root: string,
  runroot: string,
  options: { defaultNetwork?: string; prewarm?: boolean } = {},
): Promise<EngineApi> {
  const [{ Engine }, { ImageService }, { LayerStore }, { HostLayerFs }] = await Promise.all([
    lazyImport<typeof import("../engine.ts")>(new URL("../engine.ts", import.meta.url)),
    lazyImport<typeof import("../image/image_service.ts")>(
      new URL("../image/image_service.ts", import.meta.url),
    ),
    lazyImport<typeof import("../storage/layer_store.ts")>(
      new URL("../storage/layer_store.ts", import.meta.url),
    ),
    lazyImport<typeof import("../runtime/host_layer_fs.ts")>(
      new URL("../runtime/host_layer_fs.ts", import.meta.url),
    ),
  ]);
  const paths = new Paths(root, runroot);
  const images = new ImageService(paths, new LayerStore(paths, new HostLayerFs()));
  return new Engine({
    root,
    runroot,
    images,
    defaultNetwork: options.defaultNetwork,
    prewarm: options.prewarm ?? true,
  });
}

/** A running daemon. */
export interface Daemon {
  server: ApiServer;
  engine: EngineApi;
  /** What recovery found at start (containers adopted / found exited). */
  recovered: { adopted: string[]; exited: string[] };
  /** Resolves when the idle timer decided to exit (never without `idleExitMs`). */
  idle: Promise<void>;
  /** Stops serving and removes the socket; running containers keep running. */
  close(): Promise<void>;
}

/**
 * Starts the engine and the API server: recovers containers left by a previous daemon (adopts
 * the running ones, records the ones that exited meanwhile) and network state, then listens.
 */
export async function startDaemon(
  options: DaemonOptions & { engine?: EngineApi; log?: (line: string) => void },
): Promise<Daemon> {
  const engine = options.engine ??
    await createDaemonEngine(options.root, options.runroot, {
      defaultNetwork: options.defaultNetwork,
    });
  const recovered = await engine.recover?.() ?? { adopted: [], exited: [] };
  const reconcile = (engine as { reconcileNetwork?: () => Promise<unknown> }).reconcileNetwork;
  if (reconcile) {
    try {
      await reconcile.call(engine);
    } catch (err) {
      // A half-broken network must not keep the API down: report it and serve.
      options.log?.(`network reconcile failed: ${describeError(err)}`);
    }
  }
  // The first start already finds a warm init (src/runtime/launcher.ts prepareWarmInit).
  await (engine as { prewarm?: () => Promise<void> }).prewarm?.();
  const server = await serveApi({
    engine,
    socketPath: options.socketPath,
    mode: options.mode,
    daemon: { root: options.root, runroot: options.runroot },
    log: options.log,
  });
  let stopIdle = (): void => {};
  const idle = options.idleExitMs === undefined
    ? new Promise<void>(() => {})
    : new Promise<void>((resolve) => {
      stopIdle = watchIdle(server, engine, options.idleExitMs!, resolve, options.log);
    });
  return {
    server,
    engine,
    recovered,
    idle,
    close: async () => {
      stopIdle();
      await server.close();
      (engine as { supervisor?: { close(): void } }).supervisor?.close();
      await (engine as { close?: () => Promise<void> }).close?.();
    },
  };
}

/**
 * Calls `onIdle` once the daemon has been quiet for `ms`: no open connection, no running,
 * paused or restarting container. Also when its socket file was removed or replaced (nobody
 * can reach it any more). Returns a function that stops watching.
 */
function watchIdle(
  server: ApiServer,
  engine: EngineApi,
  ms: number,
  onIdle: () => void,
  log?: (line: string) => void,
): () => void {
  let quietSince = Date.now();
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const inode = (() => {
    try {
      return Deno.statSync(server.socketPath).ino;
    } catch {
      return null;
    }
  })();
  const period = Math.max(50, Math.min(1000, ms / 4));
  const tick = async (): Promise<void> => {
    if (stopped) return;
    let ino: number | null = null;
    try {
      ino = Deno.statSync(server.socketPath).ino;
    } catch {
      // removed
    }
    if (ino !== inode) {
      log?.(`socket ${server.socketPath} is gone: exiting`);
      onIdle();
      return;
    }
    let busy = server.http.connections > 0;
    if (!busy) {
      try {
        busy = (await engine.list({ all: true })).some((c) =>
          c.State === "running" || c.State === "paused" || c.State === "restarting"
        );
      } catch {
        busy = true;
      }
    }
    if (busy) quietSince = Date.now();
    else if (Date.now() - quietSince >= ms) {
      log?.(`idle for ${Math.round(ms / 1000)}s with no running container: exiting`);
      onIdle();
      return;
    }
    timer = setTimeout(tick, period);
  };
  timer = setTimeout(tick, period);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

/** `docker-ts daemon` entry point; resolves to the exit code. */
export async function daemonMain(args: readonly string[]): Promise<number> {
  // A long-lived root process: never let SIGUSR1 open Deno's inspector on 127.0.0.1:9229.
  guardInspectorSignal();
  if (args.includes("--help") || args.includes("-h")) {
    console.log(USAGE);
    return 0;
  }
  let daemon: Daemon;
  try {
    const options = parseDaemonArgs(args);
    daemon = await startDaemon({
      ...options,
      log: (line) => console.error(`docker-ts daemon: ${line}`),
    });
  } catch (err) {
    console.error(`docker-ts daemon: ${describeError(err)}`);
    return 1;
  }
  const r = daemon.recovered;
  if (r.adopted.length || r.exited.length) {
    console.error(
      `docker-ts daemon: recovered ${r.adopted.length} running and ${r.exited.length} exited container(s)`,
    );
  }
  // Beside the socket: tools (and tests) stop this daemon by its pid, never by name.
  const pidFile = `${daemon.server.socketPath.replace(/\.sock$/, "")}.pid`;
  try {
    atomicWriteFileSync(pidFile, `${Deno.pid}\n`);
  } catch (err) {
    console.error(`docker-ts daemon: cannot write ${pidFile}: ${describeError(err)}`);
  }
  console.error(`docker-ts daemon: API listening on ${daemon.server.socketPath}`);
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  let onSignal = (): void => {};
  const signalled = new Promise<void>((resolve) => {
    onSignal = resolve;
    for (const s of signals) Deno.addSignalListener(s, onSignal);
  });
  await Promise.race([signalled, daemon.idle]);
  for (const s of signals) Deno.removeSignalListener(s, onSignal);
  // Containers are not stopped: they outlive the daemon (reparented to init) and the next
  // daemon adopts them.
  await daemon.close();
  try {
    if (Deno.readTextFileSync(pidFile).trim() === String(Deno.pid)) Deno.removeSync(pidFile);
  } catch {
    // gone already
  }
  return 0;
}

if (import.meta.main) {
  Deno.exit(await daemonMain(Deno.args));
}
