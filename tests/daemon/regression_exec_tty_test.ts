/**
 * Regression ("Detached containers"): `exec -t` must get a real terminal inside the container —
 * a pty from the container's own devpts, `/dev/pts/N` there, as the process's controlling
 * terminal (so `tty` works, the shell has job control and ^C is a signal), at the asked size,
 * resizable, also for a non-root exec user. Root, cgroup v1.
 */
import assert from "node:assert/strict";
import type { Engine } from "../../src/engine.ts";
import type { ConsoleSize } from "../../src/engine_api.ts";
import { requires } from "../_helpers/requires.ts";
import { collector } from "../engine/_fakes.ts";
import { tempEngine, until } from "./_engine.ts";

const needs = requires("root", "overlay", "cgroup-v1");

/** A stdin the test writes to. */
function feeder(): { stream: ReadableStream<Uint8Array>; send(s: string): void; end(): void } {
  let ctl!: ReadableStreamDefaultController<Uint8Array>;
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      ctl = c;
    },
  });
  return {
    stream,
    send: (s) => ctl.enqueue(new TextEncoder().encode(s)),
    end: () => ctl.close(),
  };
}

async function ttyExec(
  e: Engine,
  id: string,
  cmd: string[],
  opts: { user?: string; consoleSize?: ConsoleSize } = {},
): Promise<{ code: number; out: string }> {
  const execId = await e.execCreate(id, { cmd, tty: true, user: opts.user });
  const out = collector();
  await e.execStart(execId, { stdout: out.stream, consoleSize: opts.consoleSize });
  return { code: (await e.execInspect(execId)).ExitCode!, out: out.text().replaceAll("\r", "") };
}

/** Field 7 (tty_nr) of a /proc/<pid>/stat line; comm may hold spaces, so split after ")". */
function ttyNr(stat: string): number {
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[4]);
}

Deno.test({
  name: "exec -t: container pty is the controlling terminal, sized, resizable, ^C signals",
  ...needs,
  async fn() {
    const t = await tempEngine();
    try {
      const e = t.engine;
      const { Id: id } = await e.create({
        image: "busybox",
        network: "none",
        cmd: ["sleep", "600"],
      });
      await e.start(id);

      // tty, [ -t 0 ], stty size, and the shell's own tty_nr and foreground group.
      const probe = await ttyExec(e, id, [
        "sh",
        "-c",
        "tty; [ -t 0 ] && echo stdin-is-tty; stty size; cat /proc/$$/stat; echo; ls -l $(tty)",
      ], { consoleSize: { rows: 33, cols: 101 } });
      assert.equal(probe.code, 0, probe.out);
      const lines = probe.out.split("\n");
      assert.match(lines[0], /^\/dev\/pts\/\d+$/, probe.out);
      assert.equal(lines[1], "stdin-is-tty", probe.out);
      assert.equal(lines[2], "33 101", probe.out);
      const stat = lines[3];
      assert.notEqual(ttyNr(stat), 0, `no controlling terminal: ${stat}`);
      // tpgid (field 8) is the shell's own group: it is in the foreground.
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      assert.equal(f[5], f[2], `not in the foreground: ${stat}`);

      // A non-root user can use the terminal too (the slave is handed over to it).
      const nobody = await ttyExec(e, id, ["sh", "-c", "tty; id -u; stty size"], {
        user: "nobody",
      });
      assert.equal(nobody.code, 0, nobody.out);
      assert.match(nobody.out, /^\/dev\/pts\/\d+\n65534\n24 80\n$/);

      // ^C written to the pty is SIGINT for the foreground `sleep`; resize reaches the pty.
      const execId = await e.execCreate(id, {
        cmd: ["sleep", "300"],
        tty: true,
        interactive: true,
      });
      const stdin = feeder();
      const out = collector();
      const started = e.execStart(execId, {
        stdin: stdin.stream,
        stdout: out.stream,
        consoleSize: { rows: 10, cols: 20 },
      });
      await until(async () => (await e.execInspect(execId)).Running);
      const pid = (await e.execInspect(execId)).Pid;
      // Wait until the spawned child is `sleep` with its terminal (the exec has happened).
      await until(() => {
        try {
          const st = Deno.readTextFileSync(`/proc/${pid}/stat`);
          return st.includes("(sleep)") && ttyNr(st) !== 0;
        } catch {
          return false;
        }
      });
      await e.execResize(execId, { rows: 50, cols: 132 });
      stdin.send("\x03");
      const done = await Promise.race([
        started.then(() => "exited"),
        new Promise((r) => setTimeout(() => r("timeout"), 5000)),
      ]);
      if (done !== "exited") Deno.kill(pid, "SIGKILL");
      assert.equal(done, "exited", "^C did not stop the foreground process");
      assert.equal((await e.execInspect(execId)).ExitCode, 130);
      stdin.end();

      // Resize of a running interactive shell: it reports the new size.
      const shId = await e.execCreate(id, { cmd: ["sh"], tty: true, interactive: true });
      const shIn = feeder();
      const shOut = collector();
      const sh = e.execStart(shId, {
        stdin: shIn.stream,
        stdout: shOut.stream,
        consoleSize: { rows: 10, cols: 20 },
      });
      await until(async () => (await e.execInspect(shId)).Running);
      await e.execResize(shId, { rows: 41, cols: 97 });
      shIn.send("stty size; exit 3\n");
      await sh;
      assert.equal((await e.execInspect(shId)).ExitCode, 3);
      assert.match(shOut.text(), /41 97/, shOut.text());
      // An interactive shell on a controlling terminal has job control.
      assert.doesNotMatch(shOut.text(), /job control turned off/, shOut.text());
      shIn.end();

      await e.stop(id, { timeout: 0 });
    } finally {
      await t.cleanup();
    }
  },
});
