/**
 * `cp` with tar streams (`-`), issue 4, end to end: the docker-ts CLI in-process and through a
 * daemon (`-H unix://…`), and the real docker CLI against `docker-ts daemon`. Tar out of a file
 * and a directory, tar in to running and stopped containers read back, and the errors docker
 * gives (exit 1, one line): destination not a directory, missing path, garbage on stdin, `../`.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { requires } from "../_helpers/requires.ts";
import { tempEngine } from "../daemon/_engine.ts";
import { startTestDaemon } from "../daemon/api_harness.ts";
import { TarWriter, type TarWriterEntry } from "../../src/image/tar_writer.ts";
import { tarEntries } from "../../src/image/tar_reader.ts";

const MOD = path.join(import.meta.dirname!, "../../mod.ts");
const dec = new TextDecoder();

interface Run {
  code: number;
  stdout: Uint8Array;
  stderr: string;
}

/** Runs a command with binary stdin/stdout. */
async function run(
  cmd: string,
  args: string[],
  options: { stdin?: Uint8Array; env?: Record<string, string> } = {},
): Promise<Run> {
  const p = new Deno.Command(cmd, {
    args,
    env: options.env,
    stdin: options.stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin) {
    const w = p.stdin.getWriter();
    // The command may refuse before reading: a closed pipe is not the test's failure.
    await w.write(options.stdin).catch(() => {});
    await w.close().catch(() => {});
  }
  const o = await p.output();
  return { code: o.code, stdout: o.stdout, stderr: dec.decode(o.stderr) };
}

function tarBytes(entries: TarWriterEntry[]): Uint8Array {
  const w = new TarWriter();
  for (const e of entries) w.add(e);
  return w.finish();
}

/** name → text of every entry of a tar. */
async function entriesOf(tar: Uint8Array): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const { header, body } of tarEntries(ReadableStream.from([tar]))) {
    let text = "";
    for await (const c of body) text += dec.decode(c, { stream: true });
    out.set(header.name, text);
  }
  return out;
}

const JUNK = new Uint8Array(3000).map((_, i) => (i * 7919 + 13) & 0xff);
const EVIL = tarBytes([{ name: "ok.txt", data: "ok\n" }, { name: "../../../escape", data: "x" }]);

/** The checks every client must pass; `cp(args, stdin)` runs one `cp`. */
async function checkClient(
  cp: (args: string[], stdin?: Uint8Array) => Promise<Run>,
  errPrefix: string,
): Promise<void> {
  // Tar out of a file and of a directory, running and stopped.
  const file = await cp(["run1:/etc/hostname", "-"]);
  assert.equal(file.code, 0, file.stderr);
  assert.deepEqual([...(await entriesOf(file.stdout)).keys()], ["hostname"]);
  const dir = await cp(["stopped1:/etc", "-"]);
  assert.equal(dir.code, 0, dir.stderr);
  const names = [...(await entriesOf(dir.stdout)).keys()];
  assert.equal(names[0], "etc/");
  assert.ok(names.includes("etc/passwd"), names.join(","));

  // Tar in to a running and to a stopped container, read back.
  const payload = tarBytes([
    { name: "pkg/", type: "dir" },
    { name: "pkg/a.txt", data: "alpha\n", uid: 321, gid: 654 },
  ]);
  for (const c of ["run1", "stopped1"]) {
    const put = await cp(["-", `${c}:/tmp`], payload);
    assert.equal(put.code, 0, put.stderr);
    assert.equal(put.stdout.length, 0);
    const back = await cp([`${c}:/tmp/pkg`, "-"]);
    assert.equal(back.code, 0, back.stderr);
    assert.equal((await entriesOf(back.stdout)).get("pkg/a.txt"), "alpha\n");
    for await (const { header, body } of tarEntries(ReadableStream.from([back.stdout]))) {
      if (header.name === "pkg/a.txt") assert.deepEqual([header.uid, header.gid], [321, 654]);
      for await (const _ of body) { /* drain */ }
    }
  }

  // A destination that is a symlink to a directory is followed (inside the container).
  const link = await cp(
    ["-", "run1:/tmp"],
    tarBytes([{ name: "ln", type: "symlink", linkname: "pkg" }]),
  );
  assert.equal(link.code, 0, link.stderr);
  const via = await cp(["-", "run1:/tmp/ln"], tarBytes([{ name: "b.txt", data: "beta\n" }]));
  assert.equal(via.code, 0, via.stderr);
  assert.equal(
    (await entriesOf((await cp(["run1:/tmp/pkg/b.txt", "-"])).stdout)).get("b.txt"),
    "beta\n",
  );

  // Errors: exit 1 and one line, like docker.
  const oneLine = (r: Run, re: RegExp): void => {
    assert.equal(r.code, 1, r.stderr);
    const lines = r.stderr.trimEnd().split("\n");
    assert.equal(lines.length, 1, r.stderr);
    assert.ok(lines[0].startsWith(errPrefix), r.stderr);
    assert.match(lines[0].slice(errPrefix.length), re);
  };
  oneLine(
    await cp(["-", "run1:/etc/hostname"], payload),
    /^destination "run1:\/etc\/hostname" must be a directory$/,
  );
  oneLine(
    await cp(["-", "run1:/nope"], payload),
    /^destination "run1:\/nope" must be a directory$/,
  );
  oneLine(
    await cp(["run1:/nope", "-"]),
    /^Could not find the file \/nope in container run1$/,
  );
  oneLine(await cp(["-", "stopped1:/tmp"], JUNK), /^Cannot read tar archive: /);
  oneLine(await cp(["-", "run1:/tmp"], EVIL), /\.\.\/\.\.\/\.\.\/escape.*leaves the target/);
  // Nothing of the refused archives landed.
  const tmp = await cp(["run1:/tmp", "-"]);
  assert.deepEqual([...(await entriesOf(tmp.stdout)).keys()].sort(), [
    "tmp/",
    "tmp/ln",
    "tmp/pkg/",
    "tmp/pkg/a.txt",
    "tmp/pkg/b.txt",
  ]);
}

Deno.test({
  name: "cp -: docker-ts CLI in-process",
  ...requires("root", "overlay", "cgroup-v1"),
  async fn() {
    const t = await tempEngine();
    try {
      await t.engine.create({
        image: "busybox",
        network: "none",
        name: "run1",
        cmd: ["sleep", "600"],
      });
      await t.engine.start("run1");
      await t.engine.create({ image: "busybox", network: "none", name: "stopped1", cmd: ["true"] });
      await checkClient(
        (args, stdin) =>
          run(Deno.execPath(), [
            "run",
            "-A",
            MOD,
            "--root",
            t.root,
            "--runroot",
            t.runroot,
            "cp",
            ...args,
          ], { stdin }),
        "docker-ts: ",
      );
    } finally {
      await t.cleanup();
    }
  },
});

Deno.test({
  name: "cp -: through a daemon, docker-ts CLI and the real docker CLI",
  ...requires("root", "overlay", "cgroup-v1", "docker-cli"),
  async fn() {
    const d = await startTestDaemon();
    try {
      const docker = (args: string[], stdin?: Uint8Array): Promise<Run> =>
        run("docker", args, {
          stdin,
          env: {
            DOCKER_HOST: `unix://${d.socket}`,
            DOCKER_CONFIG: path.join(d.dir, "docker-cli"),
            DOCKER_CLI_HINTS: "false",
          },
        });
      const setup = await docker(["run", "-d", "--name", "run1", "busybox", "sleep", "600"]);
      assert.equal(setup.code, 0, setup.stderr);
      assert.equal((await docker(["create", "--name", "stopped1", "busybox", "true"])).code, 0);

      await checkClient(
        (args, stdin) =>
          run(Deno.execPath(), ["run", "-A", MOD, "-H", `unix://${d.socket}`, "cp", ...args], {
            stdin,
          }),
        "docker-ts: ",
      );
      // The real docker CLI: the same archives, its own wording for client-side checks.
      for (const c of ["run1", "stopped1"]) {
        const put = await docker(
          ["cp", "-", `${c}:/tmp`],
          tarBytes([{ name: "from-docker.txt", data: "hi\n" }]),
        );
        assert.equal(put.code, 0, put.stderr);
        const out = await docker(["cp", `${c}:/tmp/from-docker.txt`, "-"]);
        assert.equal(out.code, 0, out.stderr);
        assert.deepEqual([...(await entriesOf(out.stdout)).entries()], [
          ["from-docker.txt", "hi\n"],
        ]);
      }
      const hostname = await docker(["cp", "run1:/etc/hostname", "-"]);
      assert.equal(hostname.code, 0, hostname.stderr);
      // GNU tar agrees with our reader.
      const listed = await run("tar", ["t"], { stdin: hostname.stdout });
      assert.equal(dec.decode(listed.stdout), "hostname\n");
      const notDir = await docker(["cp", "-", "run1:/etc/hostname"], JUNK);
      assert.equal(notDir.code, 1);
      assert.match(notDir.stderr, /destination "run1:\/etc\/hostname" must be a directory/);
      const junk = await docker(["cp", "-", "run1:/tmp"], JUNK);
      assert.equal(junk.code, 1);
      assert.match(junk.stderr, /^Error response from daemon: Cannot read tar archive/);
      const evil = await docker(["cp", "-", "stopped1:/tmp"], EVIL);
      assert.equal(evil.code, 1);
      assert.match(evil.stderr, /^Error response from daemon: .*leaves the target/);
      // Host paths still work through the reworked archive endpoints, both CLIs.
      const hostDir = path.join(d.dir, "host");
      Deno.mkdirSync(path.join(hostDir, "tree/sub"), { recursive: true });
      Deno.writeTextFileSync(path.join(hostDir, "tree/sub/f.txt"), "tree\n");
      const dtsCli = (args: string[]): Promise<Run> =>
        run(Deno.execPath(), ["run", "-A", MOD, "-H", `unix://${d.socket}`, ...args]);
      for (const [i, client] of [docker, dtsCli].entries()) {
        for (const c of ["run1", "stopped1"]) {
          const into = await client(["cp", path.join(hostDir, "tree"), `${c}:/tmp/renamed${i}`]);
          assert.equal(into.code, 0, into.stderr);
          const outTo = path.join(hostDir, `back-${c}-${i}`);
          const back = await client(["cp", `${c}:/tmp/renamed${i}`, outTo]);
          assert.equal(back.code, 0, back.stderr);
          assert.equal(Deno.readTextFileSync(path.join(outTo, "sub/f.txt")), "tree\n");
          // "dir/." copies the contents into an existing directory.
          const contents = await client(["cp", `${c}:/tmp/renamed${i}/.`, hostDir]);
          assert.equal(contents.code, 0, contents.stderr);
          assert.equal(Deno.readTextFileSync(path.join(hostDir, "sub/f.txt")), "tree\n");
          Deno.removeSync(path.join(hostDir, "sub"), { recursive: true });
        }
      }
      const missing = await docker(["cp", "stopped1:/nope", "-"]);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /Could not find the file \/nope in container stopped1/);
    } finally {
      await d.stop();
    }
  },
});
