/**
 * Drives `docker-ts run` the way a user does: `deno run -A mod.ts --root … --runroot … run …`
 * in a child process, on temp roots with the busybox fixture loaded, and checks that a
 * container leaves nothing behind.
 *
 * @module
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { ensureFixtures } from "../_helpers/fixtures.ts";

const MOD = new URL("../../mod.ts", import.meta.url).pathname;

/** What a CLI invocation printed and returned. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A temp docker-ts installation (root + runroot) with busybox loaded. */
export interface Sandbox {
  dir: string;
  root: string;
  runroot: string;
  /** Runs the CLI with these arguments (after the global root flags). */
  cli(args: string[], opts?: { stdin?: string; env?: Record<string, string> }): Promise<CliResult>;
  /** A long-running CLI process, for signal tests. */
  spawn(args: string[]): Deno.ChildProcess;
  /** Asserts no container directory, run dir, cgroup or mount of this sandbox is left. */
  assertClean(idPrefix?: string): void;
  /** Removes the sandbox (after unmounting nothing: every test must have cleaned up). */
  dispose(): Promise<void>;
}

function command(
  sb: { root: string; runroot: string },
  args: string[],
  env?: Record<string, string>,
) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-prompt", MOD, "--root", sb.root, "--runroot", sb.runroot, ...args],
    env: { DOCKER_TS_DEFAULT_NETWORK: "none", NO_COLOR: "1", ...env },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  });
}

/** Makes a sandbox and loads the busybox fixture into it. */
export async function sandbox(): Promise<Sandbox> {
  const fx = await ensureFixtures();
  const dir = await Deno.makeTempDir({ prefix: "dts-runreg-" });
  const sb = { root: path.join(dir, "root"), runroot: path.join(dir, "run") };
  const cli = async (
    args: string[],
    opts: { stdin?: string; env?: Record<string, string> } = {},
  ): Promise<CliResult> => {
    const child = command(sb, args, opts.env).spawn();
    const writer = child.stdin.getWriter();
    if (opts.stdin !== undefined) {
      await writer.write(new TextEncoder().encode(opts.stdin)).catch(() => {});
    }
    await writer.close().catch(() => {});
    const out = await child.output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  };
  const loaded = await cli(["load", "-i", fx.dockerArchive("busybox")]);
  assert.equal(loaded.code, 0, loaded.stderr);
  return {
    dir,
    ...sb,
    cli,
    spawn: (args) => {
      const child = command(sb, args).spawn();
      child.stdin.close();
      return child;
    },
    assertClean(idPrefix?: string): void {
      const containers = path.join(sb.root, "containers");
      const left = fs.existsSync(containers) ? fs.readdirSync(containers) : [];
      assert.deepEqual(left, [], "container directories left");
      const runDirs = path.join(sb.runroot, "containers");
      const runLeft = fs.existsSync(runDirs) ? fs.readdirSync(runDirs) : [];
      assert.deepEqual(runLeft, [], "runtime directories left");
      const mounts = Deno.readTextFileSync("/proc/self/mountinfo");
      assert.ok(!mounts.includes(dir), "a mount of the sandbox is left on the host");
      if (idPrefix) {
        for (const ctrl of fs.readdirSync("/sys/fs/cgroup")) {
          const parent = `/sys/fs/cgroup/${ctrl}/docker-ts`;
          if (!fs.existsSync(parent)) continue;
          const stale: string[] = fs.readdirSync(parent).filter((n: string) =>
            n.startsWith(idPrefix)
          );
          assert.deepEqual(stale, [], `cgroup left under ${parent}`);
        }
      }
    },
    async dispose(): Promise<void> {
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Asserts an engine error as docker prints it: one line on stderr, no stack, exit 125. */
export function assertOneLineError(r: CliResult, code: number, pattern: RegExp): void {
  assert.equal(r.code, code, `exit code (stderr: ${r.stderr})`);
  const lines = r.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `one line expected, got: ${r.stderr}`);
  assert.match(lines[0], pattern);
  assert.ok(!/\bat \S+:\d+:\d+/.test(r.stderr), "no stack trace");
}
