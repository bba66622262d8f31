import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as zlib from "node:zlib";
import { createHash } from "node:crypto";
import { chainIds, LayerStore } from "../../src/storage/layer_store.ts";
import { HostLayerFs } from "../../src/runtime/host_layer_fs.ts";
import { Paths } from "../../src/paths.ts";
import { TarWriter } from "../../src/image/tar_writer.ts";
import { InvalidArgumentError, NotFoundError } from "../../src/errors.ts";
import { requires } from "../_helpers/requires.ts";
import { FakeLayerFs } from "./fake_layer_fs.ts";

const GZIP = "application/vnd.oci.image.layer.v1.tar+gzip";

function sha(data: string | Uint8Array): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

function layer(files: Record<string, string>): { gz: Uint8Array; diffId: string } {
  const w = new TarWriter();
  for (const [name, data] of Object.entries(files)) w.add({ name, data, mode: 0o644 });
  const tar = w.finish();
  return { gz: new Uint8Array(zlib.gzipSync(tar)), diffId: sha(tar) };
}

async function* chunks(bytes: Uint8Array, size = 1024): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.slice(i, i + size);
}

async function withStore(
  fn: (store: LayerStore, paths: Paths) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "docker-ts-layers-" });
  try {
    const paths = new Paths(`${dir}/root`, `${dir}/run`);
    await fn(new LayerStore(paths, new HostLayerFs()), paths);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("chainIds: first is the diffID, then sha256 of 'parent diff'", () => {
  const a = sha("a");
  const b = sha("b");
  const c = sha("c");
  const ids = chainIds([a, b, c]);
  assert.equal(ids[0], a);
  assert.equal(ids[1], sha(`${a} ${b}`));
  assert.equal(ids[2], sha(`${ids[1]} ${c}`));
  assert.deepEqual(chainIds([]), []);
  assert.throws(() => chainIds(["md5:x"]), InvalidArgumentError);
});

Deno.test({
  name: "layer store: unpack, has, diffDir, meta, list, remove",
  ...requires("root"),
  async fn() {
    await withStore(async (store, paths) => {
      const l1 = layer({ "etc/hostname": "one\n" });
      const l2 = layer({ "etc/motd": "two\n" });
      const [c1, c2] = chainIds([l1.diffId, l2.diffId]);
      assert.equal(store.has(c1), false);
      await store.unpack({
        chainId: c1,
        diffId: l1.diffId,
        mediaType: GZIP,
        open: () => chunks(l1.gz),
      });
      await store.unpack({
        chainId: c2,
        parentChainId: c1,
        diffId: l2.diffId,
        mediaType: GZIP,
        open: () => chunks(l2.gz),
      });
      assert.equal(store.has(c1), true);
      assert.equal(fs.readFileSync(`${store.diffDir(c1)}/etc/hostname`, "utf8"), "one\n");
      assert.equal(store.diffDir(c2), `${paths.layersDir}/${c2.slice(7)}/diff`);
      const meta = store.meta(c2);
      assert.equal(meta.parentChainId, c1);
      assert.equal(meta.diffId, l2.diffId);
      assert.equal(meta.mediaType, GZIP);
      assert.deepEqual(store.list(), [c1, c2].sort());
      // A second unpack of a present layer does not open the stream.
      await store.unpack({
        chainId: c1,
        diffId: l1.diffId,
        mediaType: GZIP,
        open: () => {
          throw new Error("must not open");
        },
      });
      await store.remove(c2);
      assert.equal(store.has(c2), false);
      assert.deepEqual(store.list(), [c1]);
      await assert.rejects(store.remove(c2), NotFoundError);
      assert.throws(() => store.meta(c2), NotFoundError);
      assert.deepEqual(fs.readdirSync(paths.tmpDir), []);
    });
  },
});

Deno.test({
  name: "layer store: concurrent unpacks of one chain id unpack once",
  ...requires("root"),
  async fn() {
    await withStore(async (store) => {
      const l = layer({ f: "x".repeat(100_000) });
      let opens = 0;
      const open = () => {
        opens++;
        return chunks(l.gz);
      };
      await Promise.all(
        Array.from(
          { length: 5 },
          () => store.unpack({ chainId: l.diffId, diffId: l.diffId, mediaType: GZIP, open }),
        ),
      );
      assert.equal(opens, 1);
      assert.equal(store.has(l.diffId), true);
    });
  },
});

Deno.test({
  name: "layer store: a lost rename race across stores keeps the winner, discards the loser",
  ...requires("root"),
  async fn() {
    await withStore(async (store, paths) => {
      // Two stores on one root behave like two processes.
      const other = new LayerStore(paths, new HostLayerFs());
      const l = layer({ f: "y".repeat(200_000) });
      const opts = { chainId: l.diffId, diffId: l.diffId, mediaType: GZIP };
      await Promise.all([
        store.unpack({ ...opts, open: () => chunks(l.gz, 512) }),
        other.unpack({ ...opts, open: () => chunks(l.gz, 4096) }),
      ]);
      assert.equal(store.has(l.diffId), true);
      assert.deepEqual(fs.readdirSync(paths.tmpDir), []);
      assert.equal(fs.readFileSync(`${store.diffDir(l.diffId)}/f`, "utf8").length, 200_000);
    });
  },
});

Deno.test({
  name: "layer store: diffID mismatch, truncation and bad data leave nothing behind",
  ...requires("root"),
  async fn() {
    await withStore(async (store, paths) => {
      const l = layer({ "a/b": "content", "c": "z".repeat(50_000) });
      const wrong = sha("something else");
      await assert.rejects(
        store.unpack({ chainId: wrong, diffId: wrong, mediaType: GZIP, open: () => chunks(l.gz) }),
        (err) => err instanceof InvalidArgumentError && /expected diff id/.test(err.message),
      );
      const truncated = l.gz.subarray(0, l.gz.length - 40);
      await assert.rejects(
        store.unpack({
          chainId: l.diffId,
          diffId: l.diffId,
          mediaType: GZIP,
          open: () => chunks(truncated),
        }),
        InvalidArgumentError,
      );
      // Uncompressed tar cut at a block boundary: the tar parses, the diffID catches it.
      const tarBytes = zlib.gunzipSync(l.gz);
      await assert.rejects(
        store.unpack({
          chainId: l.diffId,
          diffId: l.diffId,
          mediaType: "application/vnd.oci.image.layer.v1.tar",
          open: () => chunks(new Uint8Array(tarBytes.subarray(0, 1024))),
        }),
        InvalidArgumentError,
      );
      assert.equal(store.has(l.diffId), false);
      assert.deepEqual(store.list(), []);
      assert.deepEqual(fs.readdirSync(paths.tmpDir), []);
      assert.deepEqual(fs.readdirSync(paths.layersDir), []);
      // The next attempt succeeds.
      await store.unpack({
        chainId: l.diffId,
        diffId: l.diffId,
        mediaType: GZIP,
        open: () => chunks(l.gz),
      });
      assert.equal(fs.readFileSync(`${store.diffDir(l.diffId)}/a/b`, "utf8"), "content");
    });
  },
});

Deno.test({
  name: "layer store: abort mid-unpack leaves nothing behind",
  ...requires("root"),
  async fn() {
    await withStore(async (store, paths) => {
      const l = layer({ big: "q".repeat(2_000_000) });
      const ac = new AbortController();
      async function* slow(): AsyncGenerator<Uint8Array> {
        for (let i = 0; i < l.gz.length; i += 256) {
          if (i === 1024) ac.abort(new DOMException("Aborted", "AbortError"));
          yield l.gz.slice(i, i + 256);
        }
      }
      await assert.rejects(
        store.unpack({
          chainId: l.diffId,
          diffId: l.diffId,
          mediaType: GZIP,
          open: slow,
          signal: ac.signal,
        }),
        (err) => err instanceof DOMException && err.name === "AbortError",
      );
      assert.equal(store.has(l.diffId), false);
      assert.deepEqual(fs.readdirSync(paths.tmpDir), []);
    });
  },
});

Deno.test("layer store: refuses a missing parent and bad ids (fake fs, no root)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "docker-ts-layers-" });
  try {
    const store = new LayerStore(new Paths(dir, `${dir}/run`), new FakeLayerFs("/"));
    const d = sha("x");
    await assert.rejects(
      store.unpack({
        chainId: d,
        parentChainId: sha("p"),
        diffId: d,
        mediaType: GZIP,
        open: () => chunks(new Uint8Array()),
      }),
      NotFoundError,
    );
    await assert.rejects(
      store.unpack({
        chainId: "sha256:nothex",
        diffId: d,
        mediaType: GZIP,
        open: () => chunks(new Uint8Array()),
      }),
      InvalidArgumentError,
    );
    assert.deepEqual(store.list(), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
