/**
 * Harness of the daemon proofs: a real `docker-ts daemon` process (real engine, `--bridge none`
 * so the host's firewall is never touched) on temp roots and a temp socket, plus helpers to run
 * the real docker CLI against it. `stop()` ends the daemon by its pid, force-removes every
 * container it left and deletes the roots.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { Engine } from "../../src/engine.ts";
import { ensureFixtures } from "../_helpers/fixtures.ts";

const MOD = path.join(import.meta.dirname!, "../../mod.ts");

/** Output of one command. */
export interface Out {
  code: number;
  stdout: string;
  stderr: string;
}

/** A daemon under test. */
export interface DaemonUnderTest {
  dir: string;
  root: string;
  runroot: string;
  socket: string;
  /** The daemon's stderr so far. */
  log(): string;
  pid(): number;
  /** Starts the daemon (again) on the same roots; resolves once the socket answers. */
  start(extra?: string[]): Promise<void>;
  /** SIGKILL (crash) or SIGTERM (graceful); waits for the process to end. */
  kill(signal?: Deno.Signal): Promise<void>;
  /** Runs the real docker CLI against the daemon. */
  docker(args: string[], options?: { stdin?: string; env?: Record<string, string> }): Promise<Out>;
  /** Runs the docker-ts CLI (mod.ts) on the same roots. */
  cli(args: string[], env?: Record<string, string>): Promise<Out>;
  stop(): Promise<void>;
}

const dec = new TextDecoder();

/** Runs a command to completion, feeding `stdin` when given. */
export async function runCommand(
  cmd: string,
  args: string[],
  options: { env?: Record<string, string>; stdin?: string } = {},
): Promise<Out> {
  const p = new Deno.Command(cmd, {
    args,
    env: options.env,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const w = p.stdin.getWriter();
    await w.write(new TextEncoder().encode(options.stdin));
    await w.close();
  }
  const o = await p.output();
  return { code: o.code, stdout: dec.decode(o.stdout), stderr: dec.decode(o.stderr) };
}

/** Polls until `fn` is true; throws after `ms`. */
export async function until(fn: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("condition not met in time");
}

/** Creates the roots (busybox loaded) and starts a daemon on them. */
export async function startTestDaemon(extra: string[] = []): Promise<DaemonUnderTest> {
  const fx = await ensureFixtures();
  const dir = await Deno.makeTempDir({ prefix: "dts-api-" });
  const root = path.join(dir, "root");
  const runroot = path.join(dir, "run");
  const socket = path.join(dir, "d.sock");
  {
    const loader = new Engine({ root, runroot });
    await loader.load(fx.dockerArchive("busybox"));
  }
  let proc: Deno.ChildProcess | undefined;
  let stderr = "";
  let pumping: Promise<void> = Promise.resolve();
  const env = {
    DOCKER_HOST: `unix://${socket}`,
    DOCKER_CONFIG: path.join(dir, "docker-cli"),
    DOCKER_CLI_HINTS: "false",
  };
  const d: DaemonUnderTest = {
    dir,
    root,
    runroot,
    socket,
    log: () => stderr,
    pid: () => proc!.pid,
    async start(more: string[] = []): Promise<void> {
      const from = stderr.length;
      proc = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          MOD,
          "--root",
          root,
          "--runroot",
          runroot,
          "daemon",
          "-H",
          `unix://${socket}`,
          "--bridge",
          "none",
          ...extra,
          ...more,
        ],
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      }).spawn();
      const reader = proc.stderr.pipeThrough(new TextDecoderStream()).getReader();
      pumping = (async () => {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          stderr += value;
        }
      })();
      await until(() => stderr.slice(from).includes("API listening on"), 20_000);
    },
    async kill(signal: Deno.Signal = "SIGKILL"): Promise<void> {
      if (!proc) return;
      try {
        proc.kill(signal);
      } catch {
        // already gone
      }
      await proc.status;
      await pumping;
      proc = undefined;
    },
    docker: (args, options = {}) =>
      runCommand("docker", args, { env: { ...env, ...options.env }, stdin: options.stdin }),
    cli: (args, extraEnv = {}) =>
      runCommand(
        Deno.execPath(),
        ["run", "-A", MOD, "--root", root, "--runroot", runroot, ...args],
        {
          env: extraEnv,
        },
      ),
    async stop(): Promise<void> {
      await d.kill("SIGKILL");
      // Containers outlive the daemon by design: remove them with an engine on the same roots.
      const engine = new Engine({ root, runroot, defaultNetwork: "none" });
      for (const c of await engine.list({ all: true })) {
        await engine.remove(c.Id, { force: true }).catch(() => {});
      }
      engine.supervisor.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  await d.start();
  return d;
}
