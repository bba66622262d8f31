import assert from "node:assert/strict";
import { requires } from "../_helpers/requires.ts";
import { type FaultHandler, startFaultProxy, startRegistry } from "../_helpers/registry.ts";
import { listTree, makeLayer, pushImage, testClient, type TestEnv, testEnv } from "./_util.ts";
import { DockerTsError, InvalidArgumentError, NotImplementedError } from "../../src/errors.ts";

const needs = requires("root", "docker-registry");

/** Nothing partial: no ingest files, no image, no layers, no tmp dirs. */
function assertClean(env: TestEnv): void {
  assert.deepEqual(listTree(env.paths.ingestDir), []);
  assert.equal(env.svc.list().length, 0);
  assert.deepEqual(env.layers.list(), []);
  assert.deepEqual(listTree(env.paths.tmpDir), []);
}

async function withProxy(
  handler: FaultHandler,
  fn: (
    ctx: {
      env: TestEnv;
      name: string;
      layer: ReturnType<typeof makeLayer>;
      host: string;
      regHost: string;
      faults: { on: boolean };
    },
  ) => Promise<void>,
): Promise<void> {
  const reg = await startRegistry();
  const env = await testEnv();
  const faults = { on: true };
  const proxy = startFaultProxy(reg.host, (req, up) => faults.on ? handler(req, up) : undefined);
  try {
    const big = new Uint8Array(2 << 20).map((_, i) => (i * 7919) & 0xff);
    const layer = makeLayer([{ name: "data.bin", data: big }, { name: "etc/x", data: "x\n" }]);
    await pushImage(testClient(), `${reg.host}/f/img:1`, [layer]);
    await fn({
      env,
      name: `${proxy.host}/f/img:1`,
      layer,
      host: proxy.host,
      regHost: reg.host,
      faults,
    });
  } finally {
    await proxy.stop();
    await env.cleanup();
    await reg.stop();
  }
}

const isBlob = (req: Request) =>
  /\/blobs\/sha256:/.test(new URL(req.url).pathname) && req.method === "GET";
const isLayerBlob = (req: Request, digest: string) =>
  isBlob(req) && new URL(req.url).pathname.endsWith(digest);

Deno.test({
  name: "faults: corrupt layer bytes are refused, nothing committed, next attempt succeeds",
  ...needs,
  async fn() {
    let corrupt = true;
    let layerDigest = "";
    await withProxy(async (req, up) => {
      if (!corrupt || !isLayerBlob(req, layerDigest)) return undefined;
      const res = await up();
      const body = new Uint8Array(await res.arrayBuffer());
      body[body.length >> 1] ^= 0xff;
      return new Response(body, {
        status: 200,
        headers: { "content-type": "application/octet-stream" },
      });
    }, async ({ env, name, layer }) => {
      layerDigest = layer.digest;
      await assert.rejects(env.svc.pull(name), (err: unknown) => {
        assert.ok(err instanceof DockerTsError, String(err));
        assert.ok(!String(err.message).includes("\n"));
        return true;
      });
      assertClean(env);
      assert.equal(env.svc.content.has(layer.digest), false);
      corrupt = false;
      const ok = await env.svc.pull(name);
      assert.ok(env.svc.content.has(layer.digest));
      assert.equal(env.svc.inspect(ok.imageId).Id, ok.imageId);
    });
  },
});

Deno.test({
  name:
    "faults: truncated layer download fails cleanly (retried, then error), next attempt succeeds",
  ...needs,
  async fn() {
    let digest = "";
    let hits = 0;
    await withProxy(async (req, up) => {
      if (!isLayerBlob(req, digest)) return undefined;
      hits++;
      const res = await up();
      const body = new Uint8Array(await res.arrayBuffer());
      return new Response(body.subarray(0, body.length - 1000), { status: 200 });
    }, async ({ env, name, layer, faults }) => {
      digest = layer.digest;
      await assert.rejects(env.svc.pull(name), (err: unknown) => {
        assert.ok(err instanceof InvalidArgumentError, String(err));
        assert.match(err.message, /expected \d+/);
        return true;
      });
      assert.equal(hits, 3); // bounded attempts
      assertClean(env);
      faults.on = false;
      await env.svc.pull(name);
      assert.equal(env.svc.list().length, 1);
    });
  },
});

Deno.test({
  name: "faults: transient 503 on blobs is retried with backoff and the pull succeeds",
  ...needs,
  async fn() {
    let failures = 1;
    await withProxy((req) => {
      if (isBlob(req) && failures > 0) {
        failures--;
        return new Response("busy", { status: 503 });
      }
      return undefined;
    }, async ({ env, name }) => {
      const r = await env.svc.pull(name);
      assert.ok(r.imageId);
      assert.equal(failures, 0);
    });
  },
});

Deno.test({
  name: "faults: malformed manifest JSON, unknown media type and schema1 get clear errors",
  ...needs,
  async fn() {
    let mode = "json";
    await withProxy((req) => {
      if (!/\/manifests\//.test(new URL(req.url).pathname)) return undefined;
      if (mode === "json") {
        return new Response("{not json", {
          headers: { "content-type": "application/vnd.docker.distribution.manifest.v2+json" },
        });
      }
      if (mode === "type") {
        return new Response(
          JSON.stringify({
            schemaVersion: 2,
            mediaType: "application/x-weird",
            config: {},
            layers: [],
          }),
          {
            headers: { "content-type": "application/x-weird" },
          },
        );
      }
      return new Response(
        JSON.stringify({ schemaVersion: 1, name: "f/img", tag: "1", fsLayers: [] }),
        {
          headers: { "content-type": "application/vnd.docker.distribution.manifest.v1+prettyjws" },
        },
      );
    }, async ({ env, name }) => {
      await assert.rejects(
        env.svc.pull(name),
        (e: unknown) => e instanceof InvalidArgumentError && /malformed JSON/.test(e.message),
      );
      mode = "type";
      await assert.rejects(
        env.svc.pull(name),
        (e: unknown) =>
          e instanceof InvalidArgumentError &&
          e.message === 'Unsupported manifest media type "application/x-weird"',
      );
      mode = "schema1";
      await assert.rejects(
        env.svc.pull(name),
        (e: unknown) =>
          e instanceof NotImplementedError && e.message === "schema1 manifests are not supported",
      );
      assertClean(env);
    });
  },
});

Deno.test({
  name: "faults: unknown layer media type is refused before downloading",
  ...needs,
  async fn() {
    const reg = await startRegistry();
    const env = await testEnv();
    try {
      const { pushArtifacts } = await import("../../src/image/push.ts");
      const { makeConfig } = await import("./_util.ts");
      const l = makeLayer({ "a": "b" });
      await pushArtifacts(testClient(), `${reg.host}/m/img:1`, {
        config: makeConfig([l]),
        layers: [{ bytes: l.gz, mediaType: "application/x-foo" }],
      });
      await assert.rejects(
        env.svc.pull(`${reg.host}/m/img:1`),
        (e: unknown) =>
          e instanceof InvalidArgumentError &&
          /Unsupported layer media type "application\/x-foo"/.test(e.message),
      );
      assertClean(env);
    } finally {
      await env.cleanup();
      await reg.stop();
    }
  },
});

Deno.test({
  name: "faults: abort mid-pull leaves no partial blob, layer or image; the next attempt succeeds",
  ...needs,
  async fn() {
    let digest = "";
    let stall = true;
    await withProxy(async (req, up) => {
      if (!isLayerBlob(req, digest) || !stall) return undefined;
      const res = await up();
      const body = new Uint8Array(await res.arrayBuffer());
      // Send half, then hang until the client gives up.
      let timer: ReturnType<typeof setTimeout> | undefined;
      const stream = new ReadableStream<Uint8Array>({
        start(c) {
          c.enqueue(body.subarray(0, body.length >> 1));
        },
        pull(c) {
          // Hang for a while, then end short (the server must not keep the test alive).
          return new Promise((resolve) => {
            timer = setTimeout(() => {
              c.close();
              resolve();
            }, 3000);
          });
        },
        cancel() {
          clearTimeout(timer);
        },
      });
      return new Response(stream, {
        status: 200,
        headers: { "content-length": String(body.length) },
      });
    }, async ({ env, name, layer }) => {
      digest = layer.digest;
      const ac = new AbortController();
      let sawDownloading = false;
      const p = env.svc.pull(name, {
        signal: ac.signal,
        onProgress: (e) => {
          if (e.status === "Downloading" && !sawDownloading) {
            sawDownloading = true;
            setTimeout(() => ac.abort(), 50);
          }
        },
      });
      await assert.rejects(p, (e: unknown) => (e as Error).name === "AbortError");
      assert.ok(sawDownloading);
      assertClean(env);
      assert.equal(env.svc.content.has(layer.digest), false);
      stall = false;
      const r = await env.svc.pull(name);
      assert.equal(env.svc.list()[0].Id, r.imageId);
    });
  },
});
