/**
 * Regressions of the image verbs as users run them (`deno run -A mod.ts …` in a subprocess with
 * temp roots): Ctrl-C mid-pull left partial ingest files and half-unpacked layers behind; failed
 * pulls and loads exited 1 where the issue asks 125.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { requires } from "../_helpers/requires.ts";
import { startFaultProxy, startRegistry } from "../_helpers/registry.ts";
import { freePort } from "../_helpers/registry.ts";
import { listTree, makeLayer, pushImage, testClient } from "../image/_util.ts";

const REPO = path.resolve(import.meta.dirname!, "../..");

interface Roots {
  dir: string;
  root: string;
  runroot: string;
}

async function tempRoots(): Promise<Roots> {
  const dir = await Deno.makeTempDir({ prefix: "docker-ts-cli-reg-" });
  return { dir, root: path.join(dir, "root"), runroot: path.join(dir, "run") };
}

function cli(roots: Roots, args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--no-prompt",
      path.join(REPO, "mod.ts"),
      "--root",
      roots.root,
      "--runroot",
      roots.runroot,
      ...args,
    ],
    cwd: REPO,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
}

async function run(roots: Roots, args: string[]): Promise<{ code: number; err: string }> {
  const out = await cli(roots, args).output();
  return { code: out.code, err: new TextDecoder().decode(out.stderr) };
}

/** Files left in the places a failed or canceled pull must leave empty. */
function leftovers(roots: Roots): string[] {
  const p = (d: string) => path.join(roots.root, d);
  return [
    ...listTree(p("content/ingest")).map((n) => `ingest/${n}`),
    ...listTree(p("tmp")).map((n) => `tmp/${n}`),
    ...listTree(p("images/meta")).map((n) => `images/${n}`),
  ];
}

function assertOneLine(err: string): void {
  assert.equal(err.trim().split("\n").length, 1, err);
  assert.match(err, /^docker-ts: /);
  assert.doesNotMatch(err, /\n\s+at |Stack backtrace|Uncaught/);
}

/**
 * Starts `pull` of a ~3 MiB layer served slowly through a proxy, sends `sig` once the download
 * is under way, and hands the exit code and roots to `check`. The registry itself (full speed)
 * is passed too, for the follow-up pull.
 */
async function interruptedPull(
  sig: Deno.Signal,
  check: (code: number, stderr: string, roots: Roots, fullSpeedRef: string) => Promise<void>,
): Promise<void> {
  const reg = await startRegistry();
  const roots = await tempRoots();
  // Random bytes: gzip cannot shrink them, so the compressed layer stays ~3 MiB.
  const big = new Uint8Array(3 << 20);
  for (let off = 0; off < big.length; off += 65536) {
    crypto.getRandomValues(big.subarray(off, off + 65536));
  }
  const layer = makeLayer([{ name: "blob.bin", data: big, mode: 0o644, mtime: 1700000000 }]);
  let served = 0;
  const proxy = startFaultProxy(reg.host, async (req, up) => {
    if (req.method !== "GET" || !new URL(req.url).pathname.endsWith(layer.digest)) {
      return undefined;
    }
    const res = await up();
    const body = new Uint8Array(await res.arrayBuffer());
    let off = 0;
    return new Response(
      new ReadableStream({
        async pull(c) {
          await new Promise((r) => setTimeout(r, 50));
          if (off >= body.length) return c.close();
          c.enqueue(body.subarray(off, off + 32768));
          off += 32768;
          served = off;
        },
      }),
      { headers: res.headers },
    );
  });
  try {
    await pushImage(testClient(), `${reg.host}/slow/img:1`, [layer]);
    const child = cli(roots, ["pull", `${proxy.host}/slow/img:1`]);
    const deadline = Date.now() + 20_000;
    while (served < 256 * 1024 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    try {
      assert.ok(served > 0, "the layer download started");
      assert.notDeepEqual(leftovers(roots), [], "an ingest is in progress");
      child.kill(sig);
    } catch (err) {
      const early = await child.output().catch(() => undefined);
      const text = early ? new TextDecoder().decode(early.stderr) : "";
      throw new Error(`the pull was not in progress: ${text}`, { cause: err });
    }
    const out = await child.output();
    await check(out.code, new TextDecoder().decode(out.stderr), roots, `${reg.host}/slow/img:1`);
  } finally {
    await proxy.stop();
    await reg.stop();
    await Deno.remove(roots.dir, { recursive: true });
  }
}

Deno.test({
  name: "cli regression: SIGINT mid-pull exits 130 and leaves no partial blob, layer or image",
  ...requires("root", "docker-registry"),
  async fn() {
    await interruptedPull("SIGINT", async (code, stderr, roots, ref) => {
      assert.equal(code, 130, stderr);
      assert.deepEqual(leftovers(roots), []);
      assert.deepEqual(listTree(path.join(roots.root, "layers")), []);
      // The next attempt succeeds.
      const again = await run(roots, ["pull", "-q", ref]);
      assert.equal(again.code, 0, again.err);
      assert.deepEqual(leftovers(roots).filter((n) => !n.startsWith("images/")), []);
    });
  },
});

Deno.test({
  name: "cli regression: what a SIGKILLed pull left is swept by the next pull",
  ...requires("root", "docker-registry"),
  async fn() {
    await interruptedPull("SIGKILL", async (code, _stderr, roots, ref) => {
      assert.equal(code, 137);
      // Killed outright: it could not clean up.
      assert.notDeepEqual(leftovers(roots), []);
      const again = await run(roots, ["pull", "-q", ref]);
      assert.equal(again.code, 0, again.err);
      assert.deepEqual(leftovers(roots).filter((n) => !n.startsWith("images/")), []);
      assert.equal(listTree(path.join(roots.root, "images/meta")).length, 1);
    });
  },
});

Deno.test({
  name: "cli regression: failed pull and load exit 125 with one line",
  ...requires("root"),
  async fn() {
    const roots = await tempRoots();
    try {
      const unreachable = await run(roots, ["pull", `127.0.0.1:${freePort()}/x/y:1`]);
      assert.equal(unreachable.code, 125, unreachable.err);
      assertOneLine(unreachable.err);
      assert.match(unreachable.err, /Cannot reach registry/);

      const badRef = await run(roots, ["pull", "UPPER"]);
      assert.equal(badRef.code, 125);
      assertOneLine(badRef.err);

      const notTar = path.join(roots.dir, "not.tar");
      await Deno.writeTextFile(notTar, "this is not a tar archive\n".repeat(40));
      const load = await run(roots, ["load", "-i", notTar]);
      assert.equal(load.code, 125, load.err);
      assertOneLine(load.err);
      assert.deepEqual(leftovers(roots), []);

      // A usage error stays the CLI's own (docker's exit 1), not an engine error.
      const usage = await run(roots, ["pull"]);
      assert.equal(usage.code, 1);
    } finally {
      await Deno.remove(roots.dir, { recursive: true });
    }
  },
});
