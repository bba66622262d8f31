/**
 * The Docker Engine API server: the HTTP server, the router and the handlers over an
 * {@link EngineApi}, listening on a unix socket.
 *
 * @module
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describeError, UnavailableError } from "../errors.ts";
import type { EngineApi } from "../engine_api.ts";
import { type HttpHandler, HttpServer } from "./http_server.ts";
import { API_VERSION, Router } from "./router.ts";
import {
  type ApiContext,
  type ApiHandler,
  apiRequest,
  type DaemonInfo,
  EventBus,
  sendError,
  sendJson,
} from "./handlers/_common.ts";
import { registerSystem } from "./handlers/system.ts";
import { registerImages } from "./handlers/images.ts";
import { registerContainers } from "./handlers/containers.ts";
import { registerExec } from "./handlers/exec.ts";
import { registerLifecycle } from "./handlers/lifecycle.ts";
import { registerArchive } from "./handlers/archive.ts";
import { registerNetworks } from "./handlers/networks.ts";

const TRACE = Deno.env.get("DOCKER_TS_TRACE") === "1";

/** docker-ts's version as the API reports it. */
export const DOCKER_TS_VERSION = "0.1.0";

/** Options of {@link createApiHandler}. */
export interface ApiHandlerOptions {
  engine: EngineApi;
  /** Facts for `/info` and `/version` (root defaults to `/var/lib/docker-ts`). */
  daemon?: Partial<DaemonInfo>;
  /** Receives one line per failed request (5xx) and per error after a response started. */
  log?: (line: string) => void;
}

/** The headers dockerd puts on every response (the CLI negotiates from `_ping`'s). */
export function defaultHeaders(version: string = DOCKER_TS_VERSION): Record<string, string> {
  return {
    "Api-Version": API_VERSION,
    "Docker-Experimental": "false",
    "Ostype": "linux",
    "Server": `Docker/${version} (linux)`,
  };
}

function clientGone(err: unknown): boolean {
  return err instanceof Deno.errors.BrokenPipe || err instanceof Deno.errors.ConnectionReset ||
    err instanceof Deno.errors.BadResource;
}

/** Builds the request handler and its context (tests drive it without a socket too). */
export function createApiHandler(
  options: ApiHandlerOptions,
): { handler: HttpHandler; context: ApiContext } {
  const daemon: DaemonInfo = {
    version: options.daemon?.version ?? DOCKER_TS_VERSION,
    root: options.daemon?.root ?? "/var/lib/docker-ts",
    runroot: options.daemon?.runroot ?? "/run/docker-ts",
    socket: options.daemon?.socket,
  };
  const context: ApiContext = {
    engine: options.engine,
    daemon,
    events: new EventBus(),
    state: new Map(),
  };
  const router = new Router<ApiHandler>();
  registerSystem(router);
  registerImages(router);
  // Lifecycle first: its static `/containers/prune` must win over `/containers/{id}/…`.
  registerLifecycle(router);
  registerContainers(router);
  registerArchive(router);
  registerExec(router);
  registerNetworks(router);
  // The engine's own events (die, restart, pause, unpause, rename — also of containers it
  // restarts by policy) join those of the actions this server performs.
  const unsubscribe = options.engine.events?.((e) => {
    context.events.emit(e.Type, e.Action, e.id, e.attributes);
  });
  if (unsubscribe) context.state.set("engineEvents", unsubscribe);
  const log = options.log;
  const handler: HttpHandler = async (http, res) => {
    let match;
    try {
      match = router.match(http.method, http.path);
    } catch (err) {
      await sendError(res, err);
      return;
    }
    if (!match) {
      await sendJson(res, 404, { message: "page not found" });
      return;
    }
    const req = apiRequest(http, match.params, match.version);
    const t0 = performance.now();
    try {
      await match.handler(req, res, context);
      // DOCKER_TS_TRACE=1: each request's time in its handler, with when it arrived.
      if (TRACE) {
        console.error(
          `[trace] api ${http.method} ${http.path} ${(performance.now() - t0).toFixed(2)}ms @${
            t0.toFixed(1)
          }`,
        );
      }
    } catch (err) {
      if (res.headersSent) {
        // A client that leaves mid-stream (`logs -f` interrupted, a tar read to its end
        // marker) is normal, not a daemon failure.
        if (!clientGone(err)) log?.(`${http.method} ${http.path}: ${describeError(err)}`);
        return;
      }
      await sendError(res, err);
      if ((err as { httpStatus?: number }).httpStatus === undefined) {
        log?.(`${http.method} ${http.path}: ${describeError(err)}`);
      }
    }
  };
  return { handler, context };
}

/** Options of {@link serveApi}. */
export interface ServeApiOptions extends ApiHandlerOptions {
  /** Unix socket path; a stale socket file there is replaced, a live one is an error. */
  socketPath: string;
  /** Socket file mode (default 0o660: root and the socket's group). */
  mode?: number;
}

/** A running API server. */
export interface ApiServer {
  socketPath: string;
  context: ApiContext;
  http: HttpServer;
  /** Stops listening, closes connections and removes the socket file. */
  close(): Promise<void>;
}

/** Whether something accepts connections on the socket. */
async function socketAlive(socketPath: string): Promise<boolean> {
  try {
    const c = await Deno.connect({ transport: "unix", path: socketPath });
    c.close();
    return true;
  } catch {
    return false;
  }
}

/**
 * Listens on a unix socket and serves the Engine API there.
 *
 * @example
 * ```ts ignore
 * const server = await serveApi({ engine, socketPath: "/run/docker-ts/docker-ts.sock" });
 * // DOCKER_HOST=unix:///run/docker-ts/docker-ts.sock docker version
 * await server.close();
 * ```
 */
export async function serveApi(options: ServeApiOptions): Promise<ApiServer> {
  const socketPath = path.resolve(options.socketPath);
  fs.mkdirSync(path.dirname(socketPath), { recursive: true, mode: 0o755 });
  if (fs.existsSync(socketPath)) {
    if (await socketAlive(socketPath)) {
      throw new UnavailableError(
        `Cannot listen on "${socketPath}": another daemon is already serving it`,
      );
    }
    // Left by a daemon that died: nobody listens, so it is safe to take over.
    fs.rmSync(socketPath, { force: true });
  }
  const { handler, context } = createApiHandler({
    ...options,
    daemon: { ...options.daemon, socket: socketPath },
  });
  const listener = Deno.listen({ transport: "unix", path: socketPath });
  fs.chmodSync(socketPath, options.mode ?? 0o660);
  const inode = fs.statSync(socketPath).ino;
  const http = new HttpServer(listener, handler, {
    defaultHeaders: defaultHeaders(context.daemon.version),
    onError: (err, req) => {
      if (!clientGone(err)) options.log?.(`${req.method} ${req.path}: ${describeError(err)}`);
    },
  });
  let closed = false;
  return {
    socketPath,
    context,
    http,
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      (context.state.get("engineEvents") as (() => void) | undefined)?.();
      await http.close();
      // Only our own socket: a successor daemon may already listen on a new file there.
      try {
        if (fs.statSync(socketPath).ino === inode) fs.rmSync(socketPath, { force: true });
      } catch {
        // gone already
      }
    },
  };
}
