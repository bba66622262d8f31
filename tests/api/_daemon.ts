/** A test daemon: the API server over an engine on a temp socket. */
import * as path from "node:path";
import { type ApiServer, serveApi } from "../../src/api/api_server.ts";
import type { EngineApi } from "../../src/engine_api.ts";

/** A served engine and its temp directory. */
export interface TestDaemon {
  dir: string;
  socket: string;
  server: ApiServer;
  logs: string[];
  stop(): Promise<void>;
}

/** Serves `engine` on `<dir>/d.sock` (dir created when not given, removed by stop). */
export async function serveTest(engine: EngineApi, dir?: string): Promise<TestDaemon> {
  const own = dir === undefined;
  const d = dir ?? await Deno.makeTempDir({ prefix: "docker-ts-api-" });
  const socket = path.join(d, "d.sock");
  const logs: string[] = [];
  const server = await serveApi({
    engine,
    socketPath: socket,
    daemon: { root: path.join(d, "root") },
    log: (l) => logs.push(l),
  });
  return {
    dir: d,
    socket,
    server,
    logs,
    async stop() {
      await server.close();
      if (own) await Deno.remove(d, { recursive: true });
    },
  };
}
