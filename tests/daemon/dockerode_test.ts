/**
 * Proof: the same everyday flow through dockerode (npm, what many Node tools and testcontainers
 * build on) from Deno, against `docker-ts daemon` on the real engine.
 */
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import Docker from "dockerode";
import { requires } from "../_helpers/requires.ts";
import { startRegistry } from "../_helpers/registry.ts";
import { pushFixture } from "../_helpers/fixtures.ts";
import { startTestDaemon } from "./api_harness.ts";

const needs = requires("root", "overlay", "cgroup-v1", "docker-registry");

/** Collects a multiplexed stream into stdout/stderr text. */
function demux(
  docker: Docker,
  stream: NodeJS.ReadableStream,
): Promise<{ out: string; err: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  let o = "";
  let e = "";
  out.on("data", (c) => o += c);
  err.on("data", (c) => e += c);
  docker.modem.demuxStream(stream, out, err);
  return new Promise((resolve, reject) => {
    stream.on("end", () => resolve({ out: o, err: e }));
    stream.on("error", reject);
  });
}

Deno.test({
  name: "dockerode against docker-ts daemon: the everyday flow",
  ...needs,
  // dockerode's http agent keeps sockets and timers beyond each call.
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const reg = await startRegistry();
    const d = await startTestDaemon();
    const docker = new Docker({ socketPath: d.socket });
    try {
      assert.equal(String(await docker.ping()), "OK");
      const v = await docker.version();
      assert.equal(v.ApiVersion, "1.41");
      const info = await docker.info();
      assert.equal(info.Images, 1);

      // pull with the JSON progress stream
      const pushed = await pushFixture(reg.host, "busybox", { form: "schema2", tag: "latest" });
      const stream = await docker.pull(pushed.ref);
      const events: { status?: string }[] = await new Promise((resolve, reject) =>
        docker.modem.followProgress(
          stream,
          (err: unknown, out: { status?: string }[]) => err ? reject(err) : resolve(out),
        )
      );
      assert.ok(events.some((e) => /Downloaded newer image/.test(e.status ?? "")));
      const images = await docker.listImages();
      assert.ok(images.some((i: { RepoTags?: string[] }) => i.RepoTags?.includes(`${pushed.ref}`)));

      // run: attach before start, wait for the exit code, auto-remove
      const out = new PassThrough();
      let text = "";
      out.on("data", (c) => text += c);
      const [result, ran] = await docker.run(
        "busybox",
        ["sh", "-c", "echo from-run; exit 2"],
        out,
        {
          HostConfig: { AutoRemove: true },
        },
      );
      assert.equal(result.StatusCode, 2);
      assert.equal(text, "from-run\r\n", "dockerode runs with Tty: the pty turns \\n into \\r\\n");
      void ran;

      // detached container, list, logs
      const c = await docker.createContainer({
        name: "dw",
        Image: "busybox",
        Cmd: [
          "sh",
          "-c",
          "echo hello; echo oops >&2; trap 'exit 0' TERM; while true; do sleep 0.2; done",
        ],
        HostConfig: { RestartPolicy: { Name: "on-failure", MaximumRetryCount: 2 } },
      });
      await c.start();
      const list = await docker.listContainers({ filters: { name: ["dw"] } });
      assert.equal(list.length, 1);
      assert.equal(list[0].State, "running");
      let logs = { out: "", err: "" };
      for (let i = 0; i < 50 && logs.out === ""; i++) {
        await new Promise((r) => setTimeout(r, 100));
        const buf = await c.logs({
          stdout: true,
          stderr: true,
          follow: false,
        }) as unknown as Buffer;
        const s = new PassThrough();
        const p = demux(docker, s);
        s.end(buf);
        logs = await p;
      }
      assert.deepEqual(logs, { out: "hello\n", err: "oops\n" });

      // exec with the hijacked stream, then its exit code
      const exec = await c.exec({
        Cmd: ["sh", "-c", "echo in-exec; exit 6"],
        AttachStdout: true,
        AttachStderr: true,
      });
      const es = await exec.start({ hijack: true, stdin: false });
      const got = await demux(docker, es);
      assert.equal(got.out, "in-exec\n");
      const ei = await exec.inspect();
      assert.deepEqual([ei.Running, ei.ExitCode], [false, 6]);

      // inspect, pause/unpause, stop/start/restart
      const ins = await c.inspect();
      assert.equal(ins.State.Status, "running");
      assert.equal(ins.HostConfig.RestartPolicy?.Name, "on-failure");
      assert.equal(ins.HostConfig.RestartPolicy?.MaximumRetryCount, 2);
      await c.pause();
      assert.equal((await c.inspect()).State.Status, "paused");
      await c.unpause();
      await c.stop({ t: 5 });
      const stopped = await c.inspect();
      assert.deepEqual([stopped.State.Status, stopped.State.ExitCode], ["exited", 0]);
      await c.start();
      await c.restart({ t: 5 });
      assert.equal((await c.inspect()).State.Status, "running");
      const top = await c.top();
      assert.ok(top.Processes.some((p: string[]) => p.join(" ").includes("sleep")));
      const stats = await c.stats({ stream: false });
      assert.ok((stats.memory_stats as { usage?: number }).usage! > 0);

      // errors: docker's statuses
      await assert.rejects(
        docker.getContainer("nosuch").inspect(),
        (e: { statusCode?: number }) => e.statusCode === 404,
      );
      await assert.rejects(c.remove(), (e: { statusCode?: number }) => e.statusCode === 409);

      await c.remove({ force: true });
      assert.equal((await docker.listContainers({ all: true })).length, 0);
      const removed = await docker.getImage(pushed.ref).remove();
      assert.ok(removed.some((r: { Untagged?: string }) => r.Untagged === pushed.ref));
    } finally {
      await d.stop();
      await reg.stop();
    }
  },
});
