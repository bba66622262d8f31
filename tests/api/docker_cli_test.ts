/**
 * The real docker CLI (v28, client only) against the API server. Containers come from the test
 * fake (host processes) so these tests pin the HTTP behaviour the CLI depends on; images come
 * from a real ImageService, pulled from a real registry.
 */
import assert from "node:assert/strict";
import { requires } from "../_helpers/requires.ts";
import { startRegistry } from "../_helpers/registry.ts";
import { pushFixture } from "../_helpers/fixtures.ts";
import { FakeEngine, tempImages } from "./_fake_engine.ts";
import { serveTest, type TestDaemon } from "./_daemon.ts";
import { startDaemon } from "../../src/api/daemon.ts";

/** requires("docker-cli") looks only at /usr/bin/docker; the CLI may live elsewhere on PATH. */
function dockerOnPath(): { ignore: boolean } {
  const dirs = (Deno.env.get("PATH") ?? "").split(":");
  const found = dirs.some((dir) => {
    try {
      return Deno.statSync(`${dir}/docker`).isFile;
    } catch {
      return false;
    }
  });
  if (!found) console.error("[requires] skipping tests that need the docker CLI on PATH");
  return { ignore: !found };
}

interface Out {
  code: number;
  stdout: string;
  stderr: string;
}

async function docker(d: TestDaemon, args: string[], stdin?: string): Promise<Out> {
  const p = new Deno.Command("docker", {
    args,
    env: {
      DOCKER_HOST: `unix://${d.socket}`,
      DOCKER_CONFIG: `${d.dir}/docker-cli`,
      DOCKER_CLI_HINTS: "false",
    },
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = p.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const o = await p.output();
  const dec = new TextDecoder();
  return { code: o.code, stdout: dec.decode(o.stdout), stderr: dec.decode(o.stderr) };
}

async function withDaemon(fn: (d: TestDaemon, e: FakeEngine) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "docker-ts-cli-" });
  const engine = new FakeEngine(tempImages(dir));
  const d = await serveTest(engine, dir);
  try {
    await fn(d, engine);
  } finally {
    await engine.killAll();
    await d.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name: "docker CLI: version, info, pull from the test registry, images, inspect, tag, rmi",
  ...(dockerOnPath().ignore ? dockerOnPath() : requires("docker-registry", "root")),
  async fn() {
    const reg = await startRegistry();
    try {
      const pushed = await pushFixture(reg.host, "busybox", { form: "schema2", tag: "latest" });
      await withDaemon(async (d) => {
        const v = await docker(d, ["version"]);
        assert.equal(v.code, 0, v.stderr);
        assert.match(
          v.stdout,
          /Server: docker-ts\n Engine:\n {2}Version:\s+0\.1\.0\n {2}API version:\s+1\.41 \(minimum version 1\.12\)/,
        );
        assert.match(
          v.stdout,
          /API version:\s+1\.41 \(downgraded from 1\.\d+\)/,
          "the CLI negotiated 1.41",
        );

        const info = await docker(d, ["info"]);
        assert.equal(info.code, 0, info.stderr);
        assert.match(info.stdout, /Server Version: 0\.1\.0/);
        assert.match(info.stdout, /Storage Driver: overlay2/);
        assert.match(info.stdout, /Images: 0/);

        const empty = await docker(d, ["images"]);
        assert.equal(empty.stdout, "REPOSITORY   TAG       IMAGE ID   CREATED   SIZE\n");

        const ref = `${reg.host}/busybox`;
        const pull = await docker(d, ["pull", ref]);
        assert.equal(pull.code, 0, pull.stderr);
        assert.match(pull.stdout, /Using default tag: latest/);
        assert.match(pull.stdout, /latest: Pulling from busybox/);
        assert.match(pull.stdout, /Pull complete/);
        assert.match(pull.stdout, new RegExp(`Digest: ${pushed.digest}`));
        assert.match(pull.stdout, new RegExp(`Status: Downloaded newer image for ${ref}:latest`));
        assert.ok(pull.stdout.trimEnd().endsWith(`${ref}:latest`), pull.stdout);

        const images = await docker(d, ["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"]);
        const id = (await docker(d, ["image", "inspect", "-f", "{{.Id}}", ref])).stdout.trim();
        assert.match(id, /^sha256:[a-f0-9]{64}$/);
        assert.equal(images.stdout, `${ref}:latest ${id.slice(7, 19)}\n`);

        const insp = await docker(d, ["inspect", ref]);
        assert.equal(insp.code, 0, insp.stderr);
        assert.deepEqual(JSON.parse(insp.stdout)[0].RepoTags, [`${ref}:latest`]);

        assert.equal((await docker(d, ["tag", ref, "mybox:v1"])).code, 0);
        const tagged = await docker(d, ["images", "--format", "{{.Repository}}:{{.Tag}}", "mybox"]);
        assert.equal(tagged.stdout, "mybox:v1\n");

        const rmi = await docker(d, ["rmi", "mybox:v1"]);
        assert.equal(rmi.stdout, "Untagged: mybox:v1\n");
        const rmi2 = await docker(d, ["rmi", ref]);
        assert.match(rmi2.stdout, new RegExp(`^Untagged: ${ref}:latest\n`));
        assert.match(rmi2.stdout, new RegExp(`Deleted: ${id}\n`));

        const missing = await docker(d, ["rmi", "nosuch"]);
        assert.equal(missing.code, 1);
        assert.equal(missing.stderr, "Error response from daemon: No such image: nosuch:latest\n");
      });
    } finally {
      await reg.stop();
    }
  },
});

Deno.test({
  name: "docker CLI: run --rm (output, exit code), run -d --name, ps, stop, rm, errors",
  ...(dockerOnPath().ignore ? dockerOnPath() : requires("root")),
  async fn() {
    await withDaemon(async (d) => {
      assert.equal(
        (await docker(d, ["load", "-i", ".fixtures/busybox.tar"])).stdout,
        "Loaded image: busybox:latest\n",
      );

      const run = await docker(d, [
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
      ]);
      assert.deepEqual([run.code, run.stdout, run.stderr], [3, "out\n", "err\n"]);
      assert.equal((await docker(d, ["ps", "-aq"])).stdout, "", "--rm removed it");

      const cat = await docker(d, ["run", "-i", "--rm", "busybox", "cat"], "piped stdin\n");
      assert.deepEqual([cat.code, cat.stdout], [0, "piped stdin\n"]);

      const bad = await docker(d, ["run", "--rm", "busybox", "nosuchcmd-xyz"]);
      assert.equal(bad.code, 127, bad.stderr);
      assert.match(bad.stderr, /executable file not found/);

      const det = await docker(d, ["run", "-d", "--name", "sleeper", "busybox", "sleep", "30"]);
      assert.equal(det.code, 0, det.stderr);
      const id = det.stdout.trim();
      assert.match(id, /^[a-f0-9]{64}$/);
      const ps = await docker(d, ["ps", "--format", "{{.ID}} {{.Names}} {{.Status}}"]);
      assert.equal(ps.stdout, `${id.slice(0, 12)} sleeper Up Less than a second\n`);
      assert.equal(
        (await docker(d, ["inspect", "-f", "{{.State.Running}}", "sleeper"])).stdout,
        "true\n",
      );
      const rmRunning = await docker(d, ["rm", "sleeper"]);
      assert.equal(rmRunning.code, 1);
      assert.match(
        rmRunning.stderr,
        /^Error response from daemon: You cannot remove a running container/,
      );
      assert.equal((await docker(d, ["stop", "-t", "1", "sleeper"])).stdout, "sleeper\n");
      const after = await docker(d, [
        "ps",
        "-a",
        "--filter",
        "name=sleeper",
        "--format",
        "{{.Status}}",
      ]);
      assert.match(after.stdout, /^Exited \(143\)/);
      assert.equal((await docker(d, ["wait", "sleeper"])).stdout, "143\n");
      assert.equal((await docker(d, ["rm", "sleeper"])).stdout, "sleeper\n");

      const nosuch = await docker(d, ["rm", "nosuch"]);
      assert.deepEqual([nosuch.code, nosuch.stderr], [
        1,
        "Error response from daemon: No such container: nosuch\n",
      ]);
      const pause = await docker(d, ["create", "--name", "p1", "busybox", "true"]);
      assert.equal(pause.code, 0);
      const p = await docker(d, ["pause", "p1"]);
      assert.equal(p.code, 1);
      assert.match(p.stderr, /not supported by this engine/);
    });
  },
});

Deno.test({
  name: "docker CLI through docker-ts daemon with the real engine: run --rm, run -d, ps, stop, rm",
  ...(dockerOnPath().ignore ? dockerOnPath() : requires("root", "overlay")),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "docker-ts-real-" });
    const daemon = await startDaemon({
      socketPath: `${dir}/d.sock`,
      root: `${dir}/root`,
      runroot: `${dir}/run`,
      // dockerd's --bridge=none: no default bridge, so the host's networks and firewall
      // (and their address pools) are left alone.
      defaultNetwork: "none",
    });
    const d = { dir, socket: `${dir}/d.sock` } as TestDaemon;
    try {
      assert.equal((await docker(d, ["load", "-i", ".fixtures/busybox.tar"])).code, 0);
      const run = await docker(d, [
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo hi; echo err >&2; exit 3",
      ]);
      assert.deepEqual([run.code, run.stdout, run.stderr], [3, "hi\n", "err\n"]);
      const cat = await docker(d, ["run", "-i", "--rm", "busybox", "cat"], "piped\n");
      assert.deepEqual([cat.code, cat.stdout], [0, "piped\n"]);
      const missing = await docker(d, ["run", "--rm", "busybox", "nosuchcmd"]);
      assert.equal(missing.code, 127);
      assert.match(missing.stderr, /exec: "nosuchcmd": executable file not found in \$PATH/);
      const det = await docker(d, ["run", "-d", "--name", "bg", "busybox", "sleep", "30"]);
      assert.equal(det.code, 0, det.stderr);
      const ps = await docker(d, ["ps", "--format", "{{.Names}} {{.Command}} {{.State}}"]);
      assert.equal(ps.stdout, 'bg "sleep 30" running\n');
      assert.equal((await docker(d, ["stop", "-t", "1", "bg"])).stdout, "bg\n");
      assert.match(
        (await docker(d, ["ps", "-a", "--format", "{{.Status}}"])).stdout,
        /^Exited \((137|143)\)/,
      );
      assert.equal((await docker(d, ["rm", "bg"])).stdout, "bg\n");
      assert.equal((await docker(d, ["ps", "-aq"])).stdout, "");
    } finally {
      await docker(d, ["rm", "-f", "bg"]).catch(() => {});
      await daemon.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
