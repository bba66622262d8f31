/** Shared harness of the detached-container tests: one temp-rooted Engine with busybox. */
import * as fs from "node:fs";
import * as path from "node:path";
import { Engine } from "../../src/engine.ts";
import type { LogEntry } from "../../src/engine_api.ts";
import { ensureFixtures } from "../_helpers/fixtures.ts";

/** A fresh engine on temp roots, busybox loaded; `cleanup` removes everything it made. */
export async function tempEngine(): Promise<{
  engine: Engine;
  dir: string;
  root: string;
  runroot: string;
  cleanup(): Promise<void>;
}> {
  const fx = await ensureFixtures();
  const dir = await Deno.makeTempDir({ prefix: "dts-daemon-" });
  const root = path.join(dir, "root");
  const runroot = path.join(dir, "run");
  const engine = new Engine({ root, runroot });
  await engine.load(fx.dockerArchive("busybox"));
  return {
    engine,
    dir,
    root,
    runroot,
    async cleanup(): Promise<void> {
      for (const c of await engine.list({ all: true })) {
        await engine.remove(c.Id, { force: true }).catch(() => {});
      }
      engine.supervisor.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Collects a logs read into text per stream. */
export async function collectLogs(
  it: AsyncIterable<LogEntry>,
): Promise<{ stdout: string; stderr: string; entries: LogEntry[] }> {
  const entries: LogEntry[] = [];
  for await (const e of it) entries.push(e);
  const dec = (s: string): string =>
    entries.filter((e) => e.stream === s).map((e) => new TextDecoder().decode(e.data)).join("");
  return { stdout: dec("stdout"), stderr: dec("stderr"), entries };
}

/** Polls `fn` until it returns true (or throws after `ms`). */
export async function until(fn: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error("condition not met in time");
}
