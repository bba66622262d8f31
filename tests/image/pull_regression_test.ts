/**
 * Regressions found by trying to break `pull` against a real registry through a fault proxy:
 * a flipped byte reported as a tar error (and not retried), a broken-off transfer reported as a
 * bare "error reading a body from connection".
 */
import assert from "node:assert/strict";
import { requires } from "../_helpers/requires.ts";
import { type FaultHandler, startFaultProxy, startRegistry } from "../_helpers/registry.ts";
import { listTree, makeLayer, pushImage, testClient, type TestEnv, testEnv } from "./_util.ts";
import { UnavailableError } from "../../src/errors.ts";
import { DigestMismatchError } from "../../src/image/content_store.ts";

const needs = requires("root", "docker-registry");

function assertClean(env: TestEnv): void {
  assert.deepEqual(listTree(env.paths.ingestDir), []);
  assert.deepEqual(listTree(env.paths.tmpDir), []);
  assert.equal(env.svc.list().length, 0);
  assert.deepEqual(env.layers.list(), []);
}

/** Many small files: a flipped byte early in the gzip stream breaks tar parsing long before EOF. */
function manyFilesLayer(): ReturnType<typeof makeLayer> {
  const files: Record<string, string> = {};
  for (let i = 0; i < 3000; i++) {
    files[`d${i % 17}/f${i}`] = `${i}:${"abcdefghij".repeat((i * 31) % 97)}\n`;
  }
  return makeLayer(files);
}

async function withFaults(
  handler: (digest: string) => FaultHandler,
  fn: (env: TestEnv, name: string, faults: { on: boolean }) => Promise<void>,
): Promise<void> {
  const reg = await startRegistry();
  const env = await testEnv();
  const faults = { on: true };
  const layer = manyFilesLayer();
  const inner = handler(layer.digest);
  const proxy = startFaultProxy(reg.host, (req, up) => faults.on ? inner(req, up) : undefined);
  try {
    await pushImage(testClient(), `${reg.host}/r/img:1`, [layer]);
    await fn(env, `${proxy.host}/r/img:1`, faults);
  } finally {
    await proxy.stop();
    await env.cleanup();
    await reg.stop();
  }
}

const isLayer = (req: Request, digest: string): boolean =>
  req.method === "GET" && new URL(req.url).pathname.endsWith(`/blobs/${digest}`);

Deno.test({
  name: "pull regression: a flipped byte is a digest mismatch, retried, not a tar error",
  ...needs,
  async fn() {
    let hits = 0;
    await withFaults((digest) => async (req, up) => {
      if (!isLayer(req, digest)) return undefined;
      hits++;
      const body = new Uint8Array(await (await up()).arrayBuffer());
      body[body.length >> 3] ^= 0xff; // early: gzip/tar break before the end is reached
      return new Response(body, { headers: { "content-type": "application/octet-stream" } });
    }, async (env, name, faults) => {
      // Several runs: before the fix, which error won depended on timing.
      for (let run = 0; run < 3; run++) {
        hits = 0;
        await assert.rejects(env.svc.pull(name), (err: unknown) => {
          assert.ok(err instanceof DigestMismatchError, `${(err as Error)?.name}: ${err}`);
          assert.match(err.message, /^Failed to verify blob "sha256:[a-f0-9]{64}"/);
          return true;
        });
        assert.equal(hits, 3, "a corrupt download is retried (3 attempts)");
        assertClean(env);
      }
      faults.on = false;
      const ok = await env.svc.pull(name);
      assert.equal(env.svc.inspect(ok.imageId).Id, ok.imageId);
    });
  },
});

Deno.test({
  name: "pull regression: a transfer that breaks off names the blob and registry, is retried",
  ...needs,
  async fn() {
    let hits = 0;
    let host = "";
    await withFaults((digest) => async (req, up) => {
      if (!isLayer(req, digest)) return undefined;
      hits++;
      host = new URL(req.url).host;
      const body = new Uint8Array(await (await up()).arrayBuffer());
      const half = body.subarray(0, body.length >> 1);
      // Chunked body that errors half-way: the client sees the connection break.
      return new Response(
        new ReadableStream({
          start(c) {
            c.enqueue(half);
            c.error(new Error("cut"));
          },
        }),
        { headers: { "content-type": "application/octet-stream" } },
      );
    }, async (env, name, faults) => {
      await assert.rejects(env.svc.pull(name), (err: unknown) => {
        assert.ok(err instanceof UnavailableError, `${(err as Error)?.name}: ${err}`);
        assert.match(err.message, /^Failed to download blob "sha256:[a-f0-9]{64}" from "/);
        assert.ok(err.message.includes(host), err.message);
        assert.ok(!err.message.includes("\n"));
        return true;
      });
      assert.equal(hits, 3);
      assertClean(env);
      faults.on = false;
      await env.svc.pull(name);
      assert.equal(env.svc.list().length, 1);
    });
  },
});
