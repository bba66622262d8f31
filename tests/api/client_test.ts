import assert from "node:assert/strict";
import { Client, createBodyFromRunOptions } from "../../src/api/client.ts";
import { runOptionsFromCreateBody } from "../../src/api/handlers/containers.ts";
import { NotFoundError } from "../../src/errors.ts";
import { requires } from "../_helpers/requires.ts";
import { FakeEngine, tempImages } from "./_fake_engine.ts";
import { serveTest } from "./_daemon.ts";

function collector(): { stream: WritableStream<Uint8Array>; text(): string } {
  let s = "";
  const d = new TextDecoder();
  return {
    stream: new WritableStream({
      write: (c) => {
        s += d.decode(c);
      },
    }),
    text: () => s,
  };
}

Deno.test("client: run options survive the trip through Docker's create body", () => {
  const input = {
    image: "busybox",
    cmd: ["sh", "-c", "true"],
    entrypoint: "",
    env: ["A=1"],
    name: "x1",
    labels: ["k=v", "bare"],
    workdir: "/tmp",
    user: "1000:1000",
    volumes: ["/src:/dst:ro"],
    tmpfs: ["/run:size=1m"],
    capAdd: ["NET_ADMIN"],
    groupAdd: ["staff", "5"],
    ulimits: ["nofile=10:20"],
    memory: 64 * 1024 * 1024,
    cpus: "1.5",
    tty: true,
    interactive: true,
    rm: true,
    network: "none",
  };
  const { options } = runOptionsFromCreateBody(createBodyFromRunOptions(input), "x1");
  assert.deepEqual(
    {
      cmd: options.cmd,
      entrypoint: options.entrypoint,
      env: options.env,
      labels: options.labels,
      volumes: options.volumes,
      tmpfs: options.tmpfs,
      ulimits: options.ulimits,
      memory: options.memory,
      cpus: options.cpus,
      groupAdd: options.groupAdd,
      flags: [
        options.tty,
        options.interactive,
        options.rm,
        options.network,
        options.user,
        options.workdir,
      ],
    },
    {
      cmd: input.cmd,
      entrypoint: "",
      env: input.env,
      labels: { k: "v", bare: "" },
      volumes: input.volumes,
      tmpfs: input.tmpfs,
      ulimits: input.ulimits,
      memory: input.memory,
      cpus: 1.5,
      groupAdd: ["staff", "5"],
      flags: [true, true, true, "none", "1000:1000", "/tmp"],
    },
  );
});

Deno.test({
  name: "client: the EngineApi over the socket — images, run with streams, lifecycle, errors",
  ...requires("root"),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "docker-ts-client-" });
    const engine = new FakeEngine(tempImages(dir));
    const d = await serveTest(engine, dir);
    const api = new Client({ socket: d.socket });
    try {
      assert.equal(await api.ping(), true);
      assert.deepEqual(await api.load(".fixtures/busybox.tar"), ["busybox:latest"]);
      await api.tag("busybox", "localhost/mine:1");
      const imgs = await api.listImages();
      assert.deepEqual(imgs[0].RepoTags.sort(), ["busybox:latest", "localhost/mine:1"]);
      assert.equal((await api.inspectImage("localhost/mine:1")).Id, imgs[0].Id);
      await assert.rejects(
        api.inspectImage("nosuch"),
        (e: unknown) => e instanceof NotFoundError || (e as { kind?: string }).kind === "NotFound",
      );

      const out = collector();
      const err = collector();
      const code = await api.run(
        {
          image: "busybox",
          cmd: ["sh", "-c", "echo out; cat; echo err >&2; exit 4"],
          interactive: true,
          rm: true,
        },
        {
          stdout: out.stream,
          stderr: err.stream,
          stdin: ReadableStream.from([new TextEncoder().encode("in\n")]),
        },
      );
      assert.deepEqual([code, out.text(), err.text()], [4, "out\nin\n", "err\n"]);
      assert.deepEqual(await api.list({ all: true }), [], "rm removed it");

      const { Id } = await api.create({ image: "busybox", name: "bg", cmd: ["sleep", "30"] });
      await api.start(Id);
      assert.equal((await api.list())[0].Names[0], "/bg");
      assert.equal((await api.inspect("bg")).State.Running, true);
      await assert.rejects(
        api.remove("bg"),
        (e: unknown) => (e as { kind?: string }).kind === "Conflict",
      );
      await api.stop("bg", { timeout: 1 });
      assert.equal(await api.wait("bg"), 143);
      await api.remove("bg");
      await assert.rejects(api.inspect("bg"), /No such container: bg/);
      await assert.rejects(
        api.kill("nosuch"),
        (e: unknown) => (e as { kind?: string }).kind === "NotFound",
      );

      const removed = await api.removeImage("localhost/mine:1");
      assert.deepEqual(removed, [{ Untagged: "localhost/mine:1" }]);
    } finally {
      await engine.killAll();
      await d.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
