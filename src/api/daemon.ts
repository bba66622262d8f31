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
import * as path from "node:path";
import { describeError, InvalidArgumentError } from "../errors.ts";
import type { EngineApi } from "../engine_api.ts";
import { DEFAULT_ROOT, DEFAULT_RUNROOT, Paths } from "../paths.ts";
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
}

const USAGE = `Usage:  docker-ts daemon [OPTIONS]

Run the docker-ts engine with a Docker Engine API server on a unix socket

Options:
  -H, --host string      Daemon socket to listen on (default "unix://${DEFAULT_SOCKET}")
      --root string      Root of persistent state (default "${DEFAULT_ROOT}")
      --runroot string   Root of runtime state (default "${DEFAULT_RUNROOT}")
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
  return { socketPath, root: path.resolve(root), runroot: path.resolve(runroot) };
}

/**
 * Creates the engine the daemon serves. The image service gets its layer store here because
 * the engine's lazy default constructs it without one.
 */
export async function createDaemonEngine(root: string, runroot: string): Promise<EngineApi> {
  const [{ Engine }, { ImageService }, { LayerStore }, { HostLayerFs }] = await Promise.all([
    import("../engine.ts"),
    import("../image/image_service.ts"),
    import("../storage/layer_store.ts"),
    import("../runtime/host_layer_fs.ts"),
  ]);
  const paths = new Paths(root, runroot);
  const images = new ImageService(paths, new LayerStore(paths, new HostLayerFs()));
  return new Engine({ root, runroot, images });
}

/** A running daemon. */
export interface Daemon {
  server: ApiServer;
  engine: EngineApi;
  /** Stops serving and removes the socket. */
  close(): Promise<void>;
}

/** Starts the engine and the API server. */
export async function startDaemon(
  options: DaemonOptions & { engine?: EngineApi; log?: (line: string) => void },
): Promise<Daemon> {
  const engine = options.engine ?? await createDaemonEngine(options.root, options.runroot);
  const server = await serveApi({
    engine,
    socketPath: options.socketPath,
    mode: options.mode,
    daemon: { root: options.root, runroot: options.runroot },
    log: options.log,
  });
  return { server, engine, close: () => server.close() };
}

/** `docker-ts daemon` entry point; resolves to the exit code. */
export async function daemonMain(args: readonly string[]): Promise<number> {
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
  console.error(`docker-ts daemon: API listening on ${daemon.server.socketPath}`);
  const stopped = new Promise<void>((resolve) => {
    const stop = (): void => {
      resolve();
    };
    Deno.addSignalListener("SIGINT", stop);
    Deno.addSignalListener("SIGTERM", stop);
  });
  await stopped;
  await daemon.close();
  return 0;
}

if (import.meta.main) {
  Deno.exit(await daemonMain(Deno.args));
}
