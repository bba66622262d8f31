/**
 * Regression: a container run attached (`run` without `-d`, `start -a`) logged nothing, so
 * `docker logs` was empty afterwards. Its output now also goes to the json-file log. Root,
 * overlay, cgroup v1; temp roots; no network.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { requires } from "../_helpers/requires.ts";
import { collectLogs, tempEngine, until } from "./_engine.ts";

const needs = requires("root", "overlay", "cgroup-v1");

/** A sink collecting what a client would see. */
function sink(): { stream: WritableStream<Uint8Array>; text(): string } {
  const parts: Uint8Array[] = [];
  return {
    stream: new WritableStream({ write: (c) => void parts.push(c.slice()) }),
    text: () => parts.map((p) => new TextDecoder().decode(p)).join(""),
  };
}

Deno.test({
  name: "attached run: output reaches the client and the json-file log, streams kept apart",
  ...needs,
  async fn() {
    const t = await tempEngine();
    try {
      const e = t.engine;
      const out = sink();
      const err = sink();
      const script = "for i in 1 2 3; do echo out$i; echo err$i >&2; done; printf tail";
      const code = await e.run(
        { image: "busybox", network: "none", name: "att", cmd: ["sh", "-c", script] },
        { stdout: out.stream, stderr: err.stream },
      );
      assert.equal(code, 0);
      assert.equal(out.text(), "out1\nout2\nout3\ntail");
      assert.equal(err.text(), "err1\nerr2\nerr3\n");
      const logs = await collectLogs(e.logs("att"));
      assert.equal(logs.stdout, "out1\nout2\nout3\ntail");
      assert.equal(logs.stderr, "err1\nerr2\nerr3\n");
      // Converted into Docker's json-file on exit (the supervisor's final pass).
      const info = await e.inspect("att");
      const logPath = (info as unknown as { LogPath: string }).LogPath;
      await until(() =>
        fs.existsSync(logPath) && fs.readFileSync(logPath, "utf8").includes("tail")
      );
      const lines = fs.readFileSync(logPath, "utf8").trim().split("\n").map((l) => JSON.parse(l));
      assert.deepEqual(
        lines.filter((l) => l.stream === "stdout").map((l) => l.log),
        ["out1\n", "out2\n", "out3\n", "tail"],
      );
      assert.equal(lines.filter((l) => l.stream === "stderr").length, 3);

      // start -a again: the history is kept and the new run appended, in order.
      const again = sink();
      await e.start("att", { stdout: again.stream, stderr: null });
      await e.wait("att");
      await until(async () => (await collectLogs(e.logs("att"))).stderr.length === 30);
      const both = await collectLogs(e.logs("att"));
      // An unterminated last line stays its own entry: "tail" then the new run's lines.
      assert.equal(both.stdout, "out1\nout2\nout3\ntailout1\nout2\nout3\ntail");
      assert.equal(both.entries.filter((x) => x.stream === "stdout").length, 8);
      // stderr was not attached, yet it is logged (Docker logs every stream).
      assert.equal(both.stderr, "err1\nerr2\nerr3\n".repeat(2));
      assert.equal(again.text(), "out1\nout2\nout3\ntail");
    } finally {
      await t.cleanup();
    }
  },
});

Deno.test({
  name: "attached run with a terminal: the pty output is logged",
  ...needs,
  async fn() {
    const t = await tempEngine();
    try {
      const e = t.engine;
      const out = sink();
      const code = await e.run(
        { image: "busybox", network: "none", name: "tty", tty: true, cmd: ["echo", "hello"] },
        { stdout: out.stream },
      );
      assert.equal(code, 0);
      assert.match(out.text(), /hello/);
      const logs = await collectLogs(e.logs("tty"));
      assert.equal(logs.stdout, "hello\r\n");
      assert.equal(logs.stderr, "");
    } finally {
      await t.cleanup();
    }
  },
});

Deno.test({
  name: "attached run: a client that goes away does not stop the container or its log",
  ...needs,
  async fn() {
    const t = await tempEngine();
    try {
      const e = t.engine;
      let n = 0;
      const broken = new WritableStream<Uint8Array>({
        write() {
          if (++n >= 1) throw new Error("client gone");
        },
      });
      const code = await e.run(
        {
          image: "busybox",
          network: "none",
          name: "gone",
          cmd: ["sh", "-c", "echo a; sleep 0.1; echo b; sleep 0.1; echo c"],
        },
        { stdout: broken },
      );
      assert.equal(code, 0);
      const logs = await collectLogs(e.logs("gone"));
      assert.equal(logs.stdout, "a\nb\nc\n");
    } finally {
      await t.cleanup();
    }
  },
});
