/** A ContainerLogs on a temp directory, removed afterwards. */
import * as fs from "node:fs";
import * as path from "node:path";
import { ContainerLogs, parseLogOptions } from "../../src/container/logs.ts";

/** Runs `fn` with logs for container `id` under a fresh temp dir, with `opts` as `--log-opt`s. */
export async function withLogs(
  id: string,
  opts: string[],
  fn: (logs: ContainerLogs, dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "dts-logs-" });
  try {
    await fn(
      new ContainerLogs({
        dir,
        id,
        config: parseLogOptions(opts),
        locksDir: path.join(dir, "locks"),
      }),
      dir,
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
