import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { Engine } from "../../src/engine.ts";
import { ContainerExecError } from "../../src/engine_api.ts";
import { InvalidArgumentError, InvalidStateError, NotFoundError } from "../../src/errors.ts";
import { collector, fakeImages, fakeRuntime, fakeStdio } from "./_fakes.ts";

async function withEngine(
  fn: (
    e: Engine,
    ctx: {
      images: ReturnType<typeof fakeImages>;
      runtime: ReturnType<typeof fakeRuntime>;
      dir: string;
    },
  ) => Promise<void>,
  config?: Parameters<typeof fakeImages>[1],
): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    const images = fakeImages(path.join(dir, "layer"), config);
    const runtime = fakeRuntime();
    const engine = new Engine({
      root: path.join(dir, "root"),
      runroot: path.join(dir, "run"),
      images,
      runtime,
      stdio: fakeStdio,
      cgroups: null,
      lookupEnv: () => undefined,
      // The fake runtime's pids are host processes: no bridge network for them.
      defaultNetwork: "none",
    });
    await fn(engine, { images, runtime, dir });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("create records a container; inspect and list derive status", async () => {
  await withEngine(async (e) => {
    const { Id } = await e.create({
      image: "busybox",
      name: "web",
      cmd: ["echo", "hi"],
      labels: ["a=b"],
    });
    assert.match(Id, /^[a-f0-9]{64}$/);
    const info = await e.inspect("web");
    assert.equal(info.Id, Id);
    assert.equal(info.Name, "/web");
    assert.equal(info.State.Status, "created");
    assert.equal(info.State.StartedAt, "0001-01-01T00:00:00Z");
    assert.equal(info.Path, "echo");
    assert.deepEqual(info.Args, ["hi"]);
    assert.deepEqual(info.Config.Cmd, ["echo", "hi"]);
    assert.equal(info.Config.Entrypoint, null);
    assert.deepEqual(info.Config.Labels, { a: "b" });
    assert.equal(info.Config.Hostname, Id.slice(0, 12));
    assert.equal(fs.readFileSync(info.HostnamePath, "utf8"), `${Id.slice(0, 12)}\n`);
    assert.match(fs.readFileSync(info.HostsPath, "utf8"), /^127\.0\.0\.1\tlocalhost\n/);
    assert.match(fs.readFileSync(info.ResolvConfPath, "utf8"), /nameserver /);
    assert.deepEqual(await e.list(), []);
    const all = await e.list({ all: true });
    assert.equal(all.length, 1);
    assert.equal(all[0].Status, "Created");
    assert.deepEqual(all[0].Names, ["/web"]);
    assert.ok(fs.statSync(path.join(e.paths.container(Id), "upper")).isDirectory());
  });
});

Deno.test("run: stdout/stderr kept apart, exit codes recorded", async () => {
  await withEngine(async (e) => {
    const out = collector();
    const err = collector();
    const code = await e.run(
      { image: "busybox", name: "r1", cmd: ["sh", "-c", "echo out; echo err >&2; exit 3"] },
      { stdout: out.stream, stderr: err.stream },
    );
    assert.equal(code, 3);
    assert.equal(out.text(), "out\n");
    assert.equal(err.text(), "err\n");
    const info = await e.inspect("r1");
    assert.equal(info.State.Status, "exited");
    assert.equal(info.State.ExitCode, 3);
    assert.notEqual(info.State.FinishedAt, "0001-01-01T00:00:00Z");
    assert.match((await e.list({ all: true }))[0].Status, /^Exited \(3\) /);
    assert.equal(await e.wait("r1"), 3);
    // restart an exited container
    await e.start("r1");
    assert.equal(await e.wait("r1"), 3);
  });
});

Deno.test("run -i pipes stdin and delivers EOF", async () => {
  await withEngine(async (e) => {
    const out = collector();
    const stdin = new Blob(["hello stdin\n"]).stream();
    const code = await e.run({ image: "busybox", interactive: true, rm: true, cmd: ["cat"] }, {
      stdin,
      stdout: out.stream,
    });
    assert.equal(code, 0);
    assert.equal(out.text(), "hello stdin\n");
  });
});

Deno.test("--rm removes the container on normal exit, exec failure and abort", async () => {
  await withEngine(async (e, { runtime }) => {
    assert.equal(await e.run({ image: "busybox", rm: true, cmd: ["true"] }), 0);
    assert.deepEqual(await e.list({ all: true }), []);

    runtime.failWith = Object.assign(
      new Error('exec: "nosuch": executable file not found in $PATH'),
      { exitCode: 127 },
    );
    await assert.rejects(e.run({ image: "busybox", rm: true, cmd: ["nosuch"] }), (err: unknown) => {
      assert.ok(err instanceof ContainerExecError);
      assert.equal(err.exitCode, 127);
      return true;
    });
    assert.deepEqual(await e.list({ all: true }), []);
    runtime.failWith = undefined;

    const ac = new AbortController();
    const p = e.run({ image: "busybox", rm: true, cmd: ["sleep", "30"] }, {
      signal: ac.signal,
      onCreated: () => setTimeout(() => ac.abort(), 200),
    });
    await assert.rejects(p);
    assert.deepEqual(await e.list({ all: true }), []);
    assert.deepEqual(fs.readdirSync(e.paths.containersDir), []);
  });
});

Deno.test("kill, stop and remove follow the transition table", async () => {
  await withEngine(async (e) => {
    const { Id } = await e.create({ image: "busybox", cmd: ["sleep", "30"] });
    await assert.rejects(e.kill(Id), InvalidStateError);
    await e.start(Id);
    const info = await e.inspect(Id);
    assert.equal(info.State.Status, "running");
    assert.ok(info.State.Pid > 0);
    assert.equal((await e.list()).length, 1);
    await e.start(Id); // running: nothing to do (Docker's 304)
    await assert.rejects(e.remove(Id), (err: unknown) => {
      assert.ok(err instanceof InvalidStateError);
      assert.match(err.message, /^You cannot remove a running container/);
      return true;
    });
    await e.stop(Id, { timeout: 5 });
    assert.equal(await e.wait(Id), 143);
    await e.stop(Id); // stopped: nothing to do
    await e.start(Id);
    await e.kill(Id, "KILL");
    assert.equal(await e.wait(Id), 137);
    await e.start(Id);
    await e.remove(Id, { force: true });
    await assert.rejects(e.inspect(Id), NotFoundError);
  });
});

Deno.test("pull policy: missing pulls, never refuses, always pulls", async () => {
  await withEngine(async (e, { images }) => {
    images.setPresent(false);
    await e.create({ image: "busybox", cmd: ["true"] });
    assert.deepEqual(images.calls, ["resolve busybox", "pull busybox", "resolve busybox"]);
    images.setPresent(false);
    await assert.rejects(
      e.create({ image: "busybox", cmd: ["true"], pull: "never" }),
      NotFoundError,
    );
    images.calls.length = 0;
    await e.create({ image: "busybox", cmd: ["true"], pull: "always" });
    assert.deepEqual(images.calls, ["pull busybox", "resolve busybox"]);
  });
});

Deno.test("engine errors leave nothing behind", async () => {
  await withEngine(async (e) => {
    await assert.rejects(e.create({ image: "busybox", entrypoint: "" }), (err: unknown) => {
      assert.ok(err instanceof InvalidArgumentError);
      assert.equal(err.message, "No command specified");
      return true;
    });
    await assert.rejects(
      e.create({ image: "busybox", user: "nosuch", cmd: ["true"] }),
      /unable to find user nosuch/,
    );
    await e.create({ image: "busybox", name: "dup", cmd: ["true"] });
    await assert.rejects(
      e.create({ image: "busybox", name: "dup", cmd: ["true"] }),
      /Conflict\. The container name "\/dup" is already in use/,
    );
    assert.equal((await e.list({ all: true })).length, 1);
    assert.deepEqual(fs.readdirSync(e.paths.containersDir).filter((n) => n.startsWith(".")), []);
  }, {});
});

Deno.test("timings are reported per stage", async () => {
  await withEngine(async (e) => {
    const stages: string[] = [];
    await e.run({ image: "busybox", rm: true, cmd: ["true"] }, { onTiming: (s) => stages.push(s) });
    for (
      const s of [
        "create.options",
        "create.spec",
        "create.store",
        "start.launch",
        "run.wait",
        "run.remove",
      ]
    ) {
      assert.ok(stages.includes(s), `${s} in ${stages}`);
    }
  });
});
