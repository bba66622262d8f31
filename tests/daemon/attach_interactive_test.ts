/**
 * Interactive attach to detached containers (issue 4), through a real daemon on temp roots:
 * `run -di` + `attach` with piped stdin; `run -dit` + `attach` on a real pseudo-terminal
 * (util-linux `script`): typing, a second observer, detach with Ctrl-P Ctrl-Q, re-attach,
 * resize, `exit` with its code; the docker CLI doing the same; a `kill -9` of the daemon
 * hangs nothing up but the containers' terminals. Root, overlay, cgroup v1.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { Client } from "../../src/api/client.ts";
import { Engine } from "../../src/engine.ts";
import { requires } from "../_helpers/requires.ts";
import { ensureFixtures } from "../_helpers/fixtures.ts";
import { type DaemonUnderTest, runCommand, startTestDaemon, until } from "./api_harness.ts";

const needs = requires("root", "overlay", "cgroup-v1");
const MOD = path.join(import.meta.dirname!, "../../mod.ts");
const hasScript = fs.existsSync("/usr/bin/script");
const hasDocker = (() => {
  try {
    return new Deno.Command("docker", { args: ["--version"] }).outputSync().success;
  } catch {
    return false;
  }
})();

/** A command running on a fresh pseudo-terminal (`script`), driven like a person would. */
interface TermSession {
  /** Everything the terminal showed so far (\r removed). */
  screen(): string;
  type(text: string): Promise<void>;
  /** Waits until the screen (after `from`) matches. */
  waitFor(re: RegExp, from?: number, ms?: number): Promise<void>;
  /** Exit status of the command (`script -e`). */
  status: Promise<Deno.CommandStatus>;
  kill(): void;
}

function onTerminal(command: string, env: Record<string, string>): TermSession {
  // `stty` fixes the terminal's size (script's pty starts at 0x0 without a terminal above).
  const p = new Deno.Command("/usr/bin/script", {
    args: ["-qefc", `stty rows 30 cols 100; ${command}`, "/dev/null"],
    env,
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const w = p.stdin.getWriter();
  let out = "";
  const pump = (async () => {
    for await (const c of p.stdout.pipeThrough(new TextDecoderStream())) out += c;
  })();
  const screen = (): string => out.replaceAll("\r", "");
  return {
    screen,
    type: (text) => w.write(new TextEncoder().encode(text)),
    async waitFor(re, from = 0, ms = 10_000): Promise<void> {
      try {
        await until(() => re.test(screen().slice(from)), ms);
      } catch {
        throw new Error(`terminal never showed ${re}; it shows: ${JSON.stringify(screen())}`);
      }
    },
    status: (async () => {
      const st = await p.status;
      await pump;
      await w.close().catch(() => {});
      return st;
    })(),
    kill: () => {
      try {
        p.kill("SIGKILL");
      } catch {
        // already gone
      }
    },
  };
}

/** `p`, or a failure after `ms` (a test must fail, never hang). */
function within<T>(p: Promise<T>, ms = 15_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not settled within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** A docker-ts CLI command line on the daemon's socket, for `script`. */
function cliLine(d: DaemonUnderTest, args: string): string {
  return `${Deno.execPath()} run -A ${MOD} --root ${d.root} --runroot ${d.runroot} ${args}`;
}

function envOf(d: DaemonUnderTest): Record<string, string> {
  return { DOCKER_TS_HOST: `unix://${d.socket}` };
}

async function state(d: DaemonUnderTest, name: string): Promise<string> {
  const r = await d.cli(["inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", name], envOf(d));
  return r.stdout.trim();
}

Deno.test({
  name: "attach: run -di then attach with piped stdin; cat echoes to the client and the log",
  ...needs,
  async fn() {
    const d = await startTestDaemon();
    const env = envOf(d);
    try {
      const run = await d.cli(["run", "-di", "--name", "cat1", "busybox", "cat"], env);
      assert.equal(run.code, 0, run.stderr);
      const p = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", MOD, "--root", d.root, "--runroot", d.runroot, "attach", "cat1"],
        env,
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const w = p.stdin.getWriter();
      await w.write(new TextEncoder().encode("hi\n"));
      await w.close();
      let out = "";
      const reading = (async () => {
        for await (const c of p.stdout.pipeThrough(new TextDecoderStream())) out += c;
      })();
      await until(() => out.includes("hi\n"));
      // Not StdinOnce (-d): the client's EOF leaves the container's stdin open, cat runs on.
      await new Promise((r) => setTimeout(r, 500));
      assert.match(await state(d, "cat1"), /^running/);
      // A second attachment still reaches the same stdin.
      const second = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", MOD, "--root", d.root, "--runroot", d.runroot, "attach", "cat1"],
        env,
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const w2 = second.stdin.getWriter();
      await w2.write(new TextEncoder().encode("again\n"));
      await w2.close();
      await until(async () => (await d.cli(["logs", "cat1"], env)).stdout === "hi\nagain\n");
      // The attachments wait for the exit, and exit with the container's code.
      assert.equal((await d.cli(["kill", "cat1"], env)).code, 0);
      const [st, st2] = await Promise.all([within(p.status), within(second.output())]);
      await reading;
      await p.stderr.cancel();
      assert.equal(st.code, 137);
      assert.equal(st2.code, 137);
      assert.match(new TextDecoder().decode(st2.stdout), /again\n/);
    } finally {
      await d.stop();
    }
  },
});

Deno.test({
  name: "attach: run -dit sh, typed session, observer, detach keys, re-attach, resize, exit code",
  ...needs,
  ignore: needs.ignore || !hasScript,
  async fn() {
    const d = await startTestDaemon();
    const env = envOf(d);
    const sessions: TermSession[] = [];
    try {
      const run = await d.cli(["run", "-dit", "--name", "sh1", "busybox", "sh"], env);
      assert.equal(run.code, 0, run.stderr);

      // An observer without stdin (no terminal needed): sees what the typed sessions show.
      const observer = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          MOD,
          "--root",
          d.root,
          "--runroot",
          d.runroot,
          "attach",
          "--no-stdin",
          "sh1",
        ],
        env,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();

      const s1 = onTerminal(`${cliLine(d, "attach sh1")}; echo "code=$?"`, env);
      sessions.push(s1);
      // Attached, the CLI resizes: the shell redraws its prompt (typing before the CLI has the
      // terminal in raw mode would be flushed away).
      await s1.waitFor(/# /);
      await s1.type('echo "hel""lo"\r');
      await s1.waitFor(/^hello$/m);
      // Detach: docker's message and status (1, as docker's CLI 28), the container runs on.
      await s1.type("\x10\x11");
      await s1.waitFor(/read escape sequence\ncode=1\n/);
      assert.equal((await within(s1.status)).code, 0);
      assert.match(await state(d, "sh1"), /^running/);

      // Re-attach; a resize through the API reaches the pty.
      const s2 = onTerminal(`${cliLine(d, "attach sh1")}; echo "code=$?"`, env);
      sessions.push(s2);
      await s2.waitFor(/# /);
      await new Client({ socket: d.socket }).resize("sh1", { rows: 33, cols: 101 });
      const mark = s2.screen().length;
      await s2.type("stty size\r");
      await s2.waitFor(/^33 101$/m, mark);
      await s2.type('echo "wor""ld"; exit 3\r');
      await s2.waitFor(/code=3\n/);
      assert.equal((await within(s2.status)).code, 0);
      assert.match(s2.screen(), /^world$/m);
      assert.equal(await state(d, "sh1"), "exited 3");

      const obs = await within(observer);
      const seen = new TextDecoder().decode(obs.stdout).replaceAll("\r", "");
      assert.match(seen, /^hello$/m, seen);
      assert.match(seen, /^world$/m, seen);
      assert.equal(obs.code, 3);

      // The log has the whole session (json-file, converted at the exit).
      const logs = (await d.cli(["logs", "sh1"], env)).stdout.replaceAll("\r", "");
      assert.match(logs, /^hello$/m);
      assert.match(logs, /^33 101$/m);
      assert.match(logs, /^world$/m);
    } finally {
      for (const s of sessions) s.kill();
      await d.stop();
    }
  },
});

Deno.test({
  name: "attach: the docker CLI attaches to run -dit, types, detaches, re-attaches, exits",
  ...needs,
  ignore: needs.ignore || !hasScript || !hasDocker,
  async fn() {
    const d = await startTestDaemon();
    const env = {
      DOCKER_HOST: `unix://${d.socket}`,
      DOCKER_CONFIG: path.join(d.dir, "docker-cli"),
      DOCKER_CLI_HINTS: "false",
    };
    const sessions: TermSession[] = [];
    try {
      const run = await d.docker(["run", "-dit", "--name", "dk1", "busybox", "sh"]);
      assert.equal(run.code, 0, run.stderr);
      const s1 = onTerminal(`docker attach dk1; echo "code=$?"`, env);
      sessions.push(s1);
      await s1.waitFor(/# /);
      await s1.type('echo "fr""om-docker"\r');
      await s1.waitFor(/^from-docker$/m);
      await s1.type("\x10\x11");
      // docker's CLI 28: "read escape sequence" (its error for the detach) and status 1.
      await s1.waitFor(/read escape sequence\ncode=1\n/);
      assert.match(await state(d, "dk1"), /^running/);

      const s2 = onTerminal(`docker attach dk1; echo "code=$?"`, env);
      sessions.push(s2);
      await s2.waitFor(/# /);
      await s2.type("exit 5\r");
      await s2.waitFor(/code=5\n/);
      assert.equal(await state(d, "dk1"), "exited 5");
      const logs = (await d.docker(["logs", "dk1"])).stdout.replaceAll("\r", "");
      assert.match(logs, /^from-docker$/m);
    } finally {
      for (const s of sessions) s.kill();
      await d.stop();
    }
  },
});

Deno.test({
  name: "attach: kill -9 of the daemon neither hangs up the terminals nor closes the stdin",
  ...needs,
  async fn() {
    const d = await startTestDaemon();
    const env = envOf(d);
    try {
      for (
        const args of [
          ["-dit", "--name", "hup-t", "busybox", "sh"],
          ["-di", "--name", "hup-i", "busybox", "cat"],
        ]
      ) {
        const r = await d.cli(["run", ...args], env);
        assert.equal(r.code, 0, r.stderr);
      }
      const pid = async (n: string): Promise<number> =>
        Number((await d.cli(["inspect", "-f", "{{.State.Pid}}", n], env)).stdout.trim());
      const pids = [await pid("hup-t"), await pid("hup-i")];
      assert.ok(pids.every((p) => p > 0));
      await d.kill("SIGKILL");
      // Each container holds a copy of the daemon's end (its pty master, its stdin pipe's
      // writer): no SIGHUP, no EOF — they wait for the daemon, as docker's shims let them.
      await new Promise((r) => setTimeout(r, 1500));
      assert.ok(pids.every((p) => fs.existsSync(`/proc/${p}`)), "a container died with the daemon");
      await d.start();
      assert.match(await state(d, "hup-t"), /^running/);
      assert.match(await state(d, "hup-i"), /^running/);
      // (Input and output after the restart: tests/daemon/regression_crash_interactive_test.ts.)
      const rm = await d.cli(["rm", "-f", "hup-t", "hup-i"], env);
      assert.equal(rm.code, 0, rm.stderr);
    } finally {
      await d.stop();
    }
  },
});

Deno.test({
  name: "attach: run -dit without a daemon auto-starts one, which holds the terminal",
  ...needs,
  ignore: needs.ignore || !hasScript,
  async fn() {
    const fx = await ensureFixtures();
    const dir = await Deno.makeTempDir({ prefix: "dts-attach-auto-" });
    const root = path.join(dir, "root");
    const runroot = path.join(dir, "run");
    const pidFile = path.join(runroot, "docker-ts.pid");
    {
      const loader = new Engine({ root, runroot });
      await loader.load(fx.dockerArchive("busybox"));
    }
    const env = { DOCKER_TS_DEFAULT_NETWORK: "none", DOCKER_TS_DAEMON_IDLE_EXIT: "1s" };
    const line = (args: string): string =>
      `${Deno.execPath()} run -A ${MOD} --root ${root} --runroot ${runroot} ${args}`;
    let session: TermSession | undefined;
    let daemonPid = 0;
    try {
      const run = await runCommand(
        Deno.execPath(),
        ["run", "-A", MOD, "--root", root, "--runroot", runroot, "run", "-dit", "busybox", "sh"],
        { env },
      );
      assert.equal(run.code, 0, run.stderr);
      daemonPid = Number(fs.readFileSync(pidFile, "utf8"));
      const id = run.stdout.trim();
      session = onTerminal(`${line(`attach ${id}`)}; echo "code=$?"`, env);
      await session.waitFor(/# /);
      await session.type('echo "au""to"; exit 4\r');
      await session.waitFor(/code=4\n/);
      assert.match(session.screen(), /^auto$/m);
      // Nothing runs any more: the daemon exits by itself.
      await until(() => !fs.existsSync(`/proc/${daemonPid}`), 15_000);
      daemonPid = 0;
    } finally {
      session?.kill();
      if (daemonPid) {
        try {
          Deno.kill(daemonPid, "SIGKILL");
        } catch {
          // gone
        }
      }
      const engine = new Engine({ root, runroot, defaultNetwork: "none" });
      for (const c of await engine.list({ all: true })) {
        await engine.remove(c.Id, { force: true }).catch(() => {});
      }
      engine.supervisor.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
});
