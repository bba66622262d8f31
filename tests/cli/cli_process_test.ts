/**
 * The CLI as users run it: `deno run -A mod.ts …` in a subprocess with temp roots, checking
 * exit codes and exact output. Engine-backed cases need root, overlayfs and the fixtures.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { requires } from "../_helpers/requires.ts";

const REPO = path.resolve(import.meta.dirname!, "../..");

function entry(): string {
  // mod.ts runs the CLI when it is the main module; main.ts does too, for before mod.ts exists.
  try {
    Deno.statSync(path.join(REPO, "mod.ts"));
    return path.join(REPO, "mod.ts");
  } catch {
    return path.join(REPO, "src/cli/main.ts");
  }
}

interface Out {
  code: number;
  out: string;
  err: string;
}

async function dts(
  args: string[],
  options: { roots?: { root: string; runroot: string }; stdin?: string } = {},
): Promise<Out> {
  const rootArgs = options.roots
    ? ["--root", options.roots.root, "--runroot", options.roots.runroot]
    : [];
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-prompt", entry(), ...rootArgs, ...args],
    cwd: REPO,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    // No default bridge on the host for these runs (dockerd --bridge=none).
    env: { NO_COLOR: "1", DOCKER_TS_DEFAULT_NETWORK: "none" },
  }).spawn();
  if (options.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(options.stdin));
    await w.close();
  }
  const r = await child.output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
}

function assertNoStack(r: Out): void {
  assert.doesNotMatch(r.err, /\n\s+at |Stack backtrace|error: Uncaught/, r.err);
}

Deno.test("cli: --version and -v", async () => {
  for (const flag of ["--version", "-v"]) {
    const r = await dts([flag]);
    assert.equal(r.code, 0);
    assert.equal(r.out, "docker-ts version 0.1.0\n");
  }
});

Deno.test("cli: --help and verb help", async () => {
  const top = await dts(["--help"]);
  assert.equal(top.code, 0);
  assert.match(top.out, /^Usage: {2}docker-ts \[OPTIONS\] COMMAND\n/);
  assert.match(top.out, /\n {2}run\s+Create and run a new container from an image\n/);
  const run = await dts(["run", "--help"]);
  assert.equal(run.code, 0);
  assert.match(
    run.out,
    /^Usage: {2}docker-ts run \[OPTIONS\] IMAGE \[COMMAND\] \[ARG\.\.\.\]\n\nCreate and run/,
  );
  for (const flag of ["--rm", "--env-file", "--cap-add", "--pids-limit", "--mount", "--ulimit"]) {
    assert.match(run.out, new RegExp(`\\s${flag} `), flag);
  }
});

Deno.test("cli: unknown verb, unknown flags, missing arguments", async () => {
  const foo = await dts(["foo"]);
  assert.equal(foo.code, 1);
  assert.equal(foo.out, "");
  assert.equal(
    foo.err,
    "docker-ts: unknown command: docker-ts foo\n\nRun 'docker-ts --help' for more information\n",
  );

  const flag = await dts(["run", "--foo", "busybox"]);
  assert.equal(flag.code, 125);
  assert.equal(
    flag.err,
    "unknown flag: --foo\n\nUsage:  docker-ts run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\nRun 'docker-ts run --help' for more information\n",
  );
  const short = await dts(["run", "-z", "busybox"]);
  assert.equal(short.code, 125);
  assert.match(short.err, /^unknown shorthand flag: 'z' in -z\n/);

  const none = await dts(["run"]);
  assert.equal(none.code, 1);
  assert.equal(
    none.err,
    "docker-ts: 'docker-ts run' requires at least 1 argument\n\nUsage:  docker-ts run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\nSee 'docker-ts run --help' for more information\n",
  );
});

Deno.test("cli: -it without a terminal", async () => {
  const r = await dts(["run", "-it", "busybox", "sh"]);
  assert.equal(r.code, 1);
  assert.equal(r.err, "docker-ts: the input device is not a TTY\n");
});

// ---------------------------------------------------------------------------------------------
// With the real engine

async function withRoots(fn: (roots: { root: string; runroot: string }) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "dts-cli-" });
  const roots = { root: path.join(dir, "root"), runroot: path.join(dir, "run") };
  try {
    await fn(roots);
  } finally {
    // Containers were run with --rm or removed; a leftover mount would make this fail loudly.
    await Deno.remove(dir, { recursive: true });
  }
}

const BUSYBOX_TAR = path.join(REPO, ".fixtures/busybox.tar");

Deno.test({
  name: "cli: load, images, tag, inspect --format, rmi",
  ...requires("root"),
  async fn() {
    await withRoots(async (roots) => {
      const load = await dts(["load", "-i", BUSYBOX_TAR], { roots });
      assertNoStack(load);
      assert.equal(load.code, 0, load.err);
      assert.match(load.out, /^Loaded image: busybox:latest\n/);

      const images = await dts(["images", "--format", "{{.Repository}}:{{.Tag}}"], { roots });
      assert.equal(images.out, "busybox:latest\n");
      const table = await dts(["images"], { roots });
      assert.match(
        table.out,
        /^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE\nbusybox\s+latest\s+[0-9a-f]{12}\s/,
      );

      const tag = await dts(["tag", "busybox", "mine:v1"], { roots });
      assert.equal(tag.code, 0, tag.err);
      const id = (await dts(["inspect", "--format", "{{.Id}}", "busybox"], { roots })).out.trim();
      assert.match(id, /^sha256:[0-9a-f]{64}$/);
      const mine = await dts([
        "image",
        "inspect",
        "--format",
        "{{.Id}} {{json .RepoTags}}",
        "mine:v1",
      ], {
        roots,
      });
      assert.equal(mine.code, 0, mine.err);
      assert.ok(mine.out.startsWith(id + " "), mine.out);

      const json = await dts(["inspect", "busybox"], { roots });
      assert.equal(JSON.parse(json.out)[0].Id, id);

      const rmi = await dts(["rmi", "mine:v1"], { roots });
      assert.equal(rmi.code, 0, rmi.err);
      assert.equal(rmi.out, "Untagged: mine:v1\n");

      const missing = await dts(["rmi", "nosuch"], { roots });
      assert.equal(missing.code, 1);
      assertNoStack(missing);
      assert.equal(missing.err.split("\n").length, 2, missing.err); // one line
    });
  },
});

Deno.test({
  name: "cli: run --rm echo, exit codes, unknown image",
  ...requires("root", "overlay"),
  async fn() {
    await withRoots(async (roots) => {
      const load = await dts(["load", "-i", BUSYBOX_TAR], { roots });
      assert.equal(load.code, 0, load.err);

      const hi = await dts(["run", "--rm", "busybox", "echo", "hi"], { roots });
      assertNoStack(hi);
      assert.equal(hi.code, 0, hi.err);
      assert.equal(hi.out, "hi\n");

      const three = await dts(["run", "--rm", "busybox", "sh", "-c", "exit 3"], { roots });
      assert.equal(three.code, 3, three.err);

      const split = await dts(["run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2"], {
        roots,
      });
      assert.equal(split.out, "out\n");
      assert.equal(split.err, "err\n");

      const stdin = await dts(["run", "--rm", "-i", "busybox", "cat"], { roots, stdin: "piped\n" });
      assert.equal(stdin.out, "piped\n", stdin.err);

      const unknown = await dts(["run", "--rm", "--pull", "never", "nosuchimage"], { roots });
      assert.equal(unknown.code, 125);
      assertNoStack(unknown);
      assert.equal(unknown.err.split("\n").length, 2, unknown.err);
      assert.match(unknown.err, /^docker-ts: .*nosuchimage/);

      const ps = await dts(["ps", "-a", "-q"], { roots });
      assert.equal(ps.out, "", "--rm left a container behind");

      // Without --rm the container stays recorded as exited with its code.
      const kept = await dts(["run", "--name", "kept", "busybox", "sh", "-c", "exit 4"], { roots });
      assert.equal(kept.code, 4, kept.err);
      const code = await dts([
        "inspect",
        "--format",
        "{{.State.Status}} {{.State.ExitCode}}",
        "kept",
      ], {
        roots,
      });
      assert.equal(code.out, "exited 4\n");
      const listed = await dts(["ps", "-a", "--format", "{{.Names}} {{.Status}}"], { roots });
      assert.match(listed.out, /^kept Exited \(4\) /);
      const rm = await dts(["rm", "kept"], { roots });
      assert.equal(rm.out, "kept\n");
    });
  },
});
