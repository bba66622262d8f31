import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { requires } from "../_helpers/requires.ts";
import { startRegistry } from "../_helpers/registry.ts";
import { listTree, makeLayer, pushImage, testClient, testEnv } from "./_util.ts";
import type { ProgressEvent } from "../../src/image/progress.ts";

const needs = requires("root", "docker-registry");

Deno.test({
  name: "pull: schema2 image from a real registry, layers unpacked and verified",
  ...needs,
  async fn() {
    const reg = await startRegistry();
    const env = await testEnv();
    try {
      const base = makeLayer({ "bin/hello": "hello\n", "etc/os-release": "ID=test\n" });
      const top = makeLayer({ "etc/motd": "welcome\n" });
      const pushed = await pushImage(testClient(), `${reg.host}/test/app:v1`, [base, top]);
      const events: ProgressEvent[] = [];
      const res = await env.svc.pull(`${reg.host}/test/app:v1`, {
        onProgress: (e) => events.push(e),
      });
      assert.equal(res.manifestDigest, pushed.digest);
      assert.equal(res.upToDate, false);
      const run = await env.svc.resolveForRun(`${reg.host}/test/app:v1`);
      assert.equal(run.imageId, res.imageId);
      assert.deepEqual(run.config.Cmd, ["sh"]);
      assert.equal(run.layerDiffDirs.length, 2);
      assert.equal(
        fs.readFileSync(path.join(run.layerDiffDirs[0], "bin/hello"), "utf8"),
        "hello\n",
      );
      assert.equal(
        fs.readFileSync(path.join(run.layerDiffDirs[1], "etc/motd"), "utf8"),
        "welcome\n",
      );
      // Blobs committed, nothing left in ingest.
      assert.ok(env.svc.content.has(base.digest) && env.svc.content.has(top.digest));
      assert.deepEqual(listTree(env.paths.ingestDir), []);
      // docker-shaped progress.
      const statuses = events.map((e) => e.status);
      assert.equal(statuses[0], "Pulling from test/app");
      assert.ok(statuses.includes("Pulling fs layer"));
      assert.ok(statuses.includes("Download complete"));
      assert.ok(statuses.includes("Pull complete"));
      assert.ok(statuses.includes(`Digest: ${pushed.digest}`));
      assert.equal(statuses.at(-1), `Status: Downloaded newer image for ${reg.host}/test/app:v1`);
      // list / inspect
      const [img] = env.svc.list();
      assert.equal(img.Id, res.imageId);
      assert.deepEqual(img.RepoTags, [`${reg.host}/test/app:v1`]);
      assert.deepEqual(img.RepoDigests, [`${reg.host}/test/app@${pushed.digest}`]);
      const ins = env.svc.inspect(`${reg.host}/test/app:v1`);
      assert.equal(ins.Id, res.imageId);
      assert.equal(ins.Os, "linux");
      assert.equal(ins.Architecture, "amd64");
      assert.deepEqual(ins.RootFS, { Type: "layers", Layers: [base.diffId, top.diffId] });
      assert.deepEqual((ins.Config as { Cmd: string[] }).Cmd, ["sh"]);
      // Pulling again: up to date, nothing downloaded.
      const events2: ProgressEvent[] = [];
      const again = await env.svc.pull(`${reg.host}/test/app:v1`, {
        onProgress: (e) => events2.push(e),
      });
      assert.equal(again.upToDate, true);
      assert.equal(events2.filter((e) => e.status === "Already exists").length, 2);
      assert.equal(
        events2.at(-1)?.status,
        `Status: Image is up to date for ${reg.host}/test/app:v1`,
      );
    } finally {
      await env.cleanup();
      await reg.stop();
    }
  },
});

Deno.test({
  name: "pull: OCI index picks the platform (amd64 default, arm64/v8 on request)",
  ...needs,
  async fn() {
    const reg = await startRegistry();
    const env = await testEnv();
    try {
      const client = testClient();
      const amd = makeLayer({ "arch": "amd64\n" });
      const arm = makeLayer({ "arch": "arm64\n" });
      const repo = `${reg.host}/multi/img`;
      const mAmd = await pushImage(client, repo, [amd], { format: "oci", tag: null });
      const mArm = await pushImage(client, repo, [arm], {
        format: "oci",
        architecture: "arm64",
        variant: "v8",
        tag: null,
      });
      const index = {
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.index.v1+json",
        manifests: [
          {
            mediaType: mArm.mediaType,
            digest: mArm.digest,
            size: mArm.size,
            platform: { os: "linux", architecture: "arm64", variant: "v8" },
          },
          {
            mediaType: mAmd.mediaType,
            digest: mAmd.digest,
            size: mAmd.size,
            platform: { os: "linux", architecture: "amd64" },
          },
          {
            mediaType: mAmd.mediaType,
            digest: mAmd.digest,
            size: mAmd.size,
            platform: { os: "unknown", architecture: "unknown" },
          },
        ],
      };
      const { pushManifestBytes } = await import("../../src/image/push.ts");
      const idxDigest = await pushManifestBytes(
        client,
        `${repo}:latest`,
        new TextEncoder().encode(JSON.stringify(index)),
        index.mediaType,
      );

      const a = await env.svc.pull(repo);
      assert.equal(a.manifestDigest, idxDigest);
      const runA = await env.svc.resolveForRun(repo);
      assert.equal(fs.readFileSync(path.join(runA.layerDiffDirs[0], "arch"), "utf8"), "amd64\n");
      assert.deepEqual(env.svc.list()[0].RepoDigests, [`${repo}@${idxDigest}`]);

      const b = await env.svc.pull(`${repo}:latest`, { platform: "linux/arm64" });
      const runB = await env.svc.resolveForRun(b.imageId);
      assert.equal(fs.readFileSync(path.join(runB.layerDiffDirs[0], "arch"), "utf8"), "arm64\n");
      assert.equal(env.svc.inspect(b.imageId).Architecture, "arm64");

      await assert.rejects(
        env.svc.pull(repo, { platform: "linux/s390x" }),
        /no matching manifest for linux\/s390x/,
      );
    } finally {
      await env.cleanup();
      await reg.stop();
    }
  },
});

Deno.test({
  name: "pull: concurrent pulls of one image (same process, two services on one root) both succeed",
  ...needs,
  async fn() {
    const reg = await startRegistry();
    const env = await testEnv();
    try {
      const big = new Uint8Array(3 << 20);
      for (let i = 0; i < big.length; i++) big[i] = (i * 2654435761) >>> 24;
      const l1 = makeLayer([{ name: "big.bin", data: big }]);
      const l2 = makeLayer({ "a": "a\n" });
      await pushImage(testClient(), `${reg.host}/c/img:1`, [l1, l2]);
      const other = env.another();
      const [r1, r2, r3] = await Promise.all([
        env.svc.pull(`${reg.host}/c/img:1`),
        other.pull(`${reg.host}/c/img:1`),
        env.svc.pull(`${reg.host}/c/img:1`),
      ]);
      assert.equal(r1.imageId, r2.imageId);
      assert.equal(r1.imageId, r3.imageId);
      const run = await env.svc.resolveForRun(`${reg.host}/c/img:1`);
      assert.equal(fs.statSync(path.join(run.layerDiffDirs[0], "big.bin")).size, big.length);
      assert.deepEqual(listTree(env.paths.ingestDir), []);
      assert.equal(env.layers.list().length, 2);
    } finally {
      await env.cleanup();
      await reg.stop();
    }
  },
});
