import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { requires } from "../_helpers/requires.ts";
import { startRegistry } from "../_helpers/registry.ts";
import { makeConfig, makeLayer, pushImage, sha, testClient, testEnv } from "./_util.ts";
import { ConflictError, NotFoundError } from "../../src/errors.ts";
import { TarWriter } from "../../src/image/tar_writer.ts";
import { tarEntries } from "../../src/image/tar_reader.ts";

const needs = requires("root", "docker-registry");

Deno.test({
  name: "service: tag, rmi semantics (untag vs delete, conflicts, in use) and garbage collection",
  ...needs,
  async fn() {
    const reg = await startRegistry();
    const env = await testEnv();
    try {
      const shared = makeLayer({ "base": "shared\n" });
      const onlyA = makeLayer({ "a": "a\n" });
      const onlyB = makeLayer({ "b": "b\n" });
      await pushImage(testClient(), `${reg.host}/g/a:1`, [shared, onlyA]);
      await pushImage(testClient(), `${reg.host}/g/b:1`, [shared, onlyB]);
      const a = await env.svc.pull(`${reg.host}/g/a:1`);
      const b = await env.svc.pull(`${reg.host}/g/b:1`);
      env.svc.tag(`${reg.host}/g/a:1`, "mytag:v2");
      assert.deepEqual(
        env.svc.inspect("mytag:v2").RepoTags.sort(),
        [`${reg.host}/g/a:1`, "mytag:v2"].sort(),
      );
      // By id with two names: conflict.
      await assert.rejects(
        env.svc.remove(a.imageId.slice(7, 19)),
        (e: unknown) =>
          e instanceof ConflictError &&
          /must be forced\) - image is referenced in multiple repositories/.test(e.message),
      );
      // In use: conflict without force; with force only untag.
      await assert.rejects(
        env.svc.remove(`${reg.host}/g/b:1`, { inUse: () => "c0ffee0000000000" }),
        (e: unknown) =>
          e instanceof ConflictError &&
          /container c0ffee000000 is using its referenced image/.test(e.message),
      );
      // Untag one name: image stays.
      assert.deepEqual(await env.svc.remove("mytag:v2"), [{ Untagged: "mytag:v2" }]);
      assert.ok(env.svc.inspect(a.imageId));
      // Remove the last name: untag (tag + digest), delete image, collect its own layer only.
      const rep = await env.svc.remove(`${reg.host}/g/a:1`);
      assert.deepEqual(rep.slice(0, 2).map((r) => Object.keys(r)[0]), ["Untagged", "Untagged"]);
      assert.ok(rep.some((r) => "Deleted" in r && r.Deleted === a.imageId));
      assert.throws(() => env.svc.inspect(a.imageId), NotFoundError);
      assert.equal(env.svc.content.has(onlyA.digest), false);
      assert.equal(env.svc.content.has(a.imageId), false);
      assert.equal(env.svc.content.has(shared.digest), true); // still used by b
      const run = await env.svc.resolveForRun(`${reg.host}/g/b:1`);
      assert.equal(fs.readFileSync(path.join(run.layerDiffDirs[0], "base"), "utf8"), "shared\n");
      assert.equal(env.layers.list().length, 2);
      // Remove b by id: everything goes.
      await env.svc.remove(b.imageId);
      assert.deepEqual(env.layers.list(), []);
      assert.deepEqual(env.svc.content.list(), []);
      assert.deepEqual(env.svc.list(), []);
      await assert.rejects(
        env.svc.remove("nothing:here"),
        (e: unknown) => e instanceof NotFoundError && e.message === "No such image: nothing:here",
      );
    } finally {
      await env.cleanup();
      await reg.stop();
    }
  },
});

Deno.test({
  name: "service: save writes a docker-archive that podman load accepts and our load reads back",
  ...requires("root", "docker-registry", "podman"),
  async fn() {
    const reg = await startRegistry();
    const env = await testEnv();
    try {
      const l1 = makeLayer({ "bin/x": "x\n" });
      const l2 = makeLayer({ "etc/y": "y\n" });
      await pushImage(testClient(), `${reg.host}/s/img:1`, [l1, l2], { format: "oci" });
      const pulled = await env.svc.pull(`${reg.host}/s/img:1`);
      const archive = path.join(env.dir, "img.tar");
      await env.svc.save([`${reg.host}/s/img:1`], archive);
      const names: string[] = [];
      for await (
        const e of tarEntries(fs.createReadStream(archive) as unknown as AsyncIterable<Uint8Array>)
      ) {
        names.push(e.header.name);
        for await (const _ of e.body) { /* skip */ }
      }
      assert.ok(names.includes("manifest.json") && names.includes("repositories"));
      assert.ok(names.includes(`${l1.diffId.slice(7)}/layer.tar`));
      // podman accepts it.
      const proot = path.join(env.dir, "podman");
      const out = await new Deno.Command("podman", {
        args: [
          "--root",
          `${proot}/root`,
          "--runroot",
          `${proot}/run`,
          "--storage-driver",
          "vfs",
          "--events-backend",
          "file",
          "load",
          "-i",
          archive,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      assert.ok(out.success, text);
      assert.match(text, new RegExp(`Loaded image.*${reg.host}/s/img:1`));
      const ins = await new Deno.Command("podman", {
        args: [
          "--root",
          `${proot}/root`,
          "--runroot",
          `${proot}/run`,
          "--storage-driver",
          "vfs",
          "--events-backend",
          "file",
          "image",
          "inspect",
          "--format",
          "{{.Id}}",
          `${reg.host}/s/img:1`,
        ],
        stdout: "piped",
      }).output();
      assert.equal(new TextDecoder().decode(ins.stdout).trim(), pulled.imageId.slice(7));
      // Our own load in a fresh root.
      const env2 = await testEnv();
      try {
        const loaded = await env2.svc.load(archive);
        assert.deepEqual(loaded, [`${reg.host}/s/img:1`]);
        const run = await env2.svc.resolveForRun(`${reg.host}/s/img:1`);
        assert.equal(run.imageId, pulled.imageId);
        assert.equal(fs.readFileSync(path.join(run.layerDiffDirs[1], "etc/y"), "utf8"), "y\n");
        assert.deepEqual(fs.readdirSync(env2.paths.ingestDir), []);
      } finally {
        await env2.cleanup();
      }
    } finally {
      await env.cleanup();
      await reg.stop();
    }
  },
});

Deno.test({
  name: "service: load an OCI image layout archive (index with ref name), then push it",
  ...needs,
  async fn() {
    const reg = await startRegistry();
    const env = await testEnv();
    try {
      const l = makeLayer({ "hello": "oci\n" });
      const config = makeConfig([l]);
      const manifest = new TextEncoder().encode(JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        config: {
          mediaType: "application/vnd.oci.image.config.v1+json",
          digest: sha(config),
          size: config.length,
        },
        layers: [{
          mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
          digest: l.digest,
          size: l.gz.length,
        }],
      }));
      const index = {
        schemaVersion: 2,
        manifests: [{
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          digest: sha(manifest),
          size: manifest.length,
          annotations: { "org.opencontainers.image.ref.name": `${reg.host}/oci/img:7` },
        }],
      };
      const w = new TarWriter();
      w.add({ name: "oci-layout", data: '{"imageLayoutVersion":"1.0.0"}' });
      w.add({ name: "index.json", data: JSON.stringify(index) });
      w.add({ name: "blobs/", type: "dir" });
      w.add({ name: "blobs/sha256/", type: "dir" });
      for (const blob of [l.gz, config, manifest]) {
        w.add({ name: `blobs/sha256/${sha(blob).slice(7)}`, data: blob });
      }
      const file = path.join(env.dir, "oci.tar");
      fs.writeFileSync(file, w.finish());
      const loaded = await env.svc.load(file);
      assert.deepEqual(loaded, [`${reg.host}/oci/img:7`]);
      const run = await env.svc.resolveForRun(`${reg.host}/oci/img:7`);
      assert.equal(run.imageId, sha(config));
      assert.equal(fs.readFileSync(path.join(run.layerDiffDirs[0], "hello"), "utf8"), "oci\n");
      const pushed = await env.svc.push(`${reg.host}/oci/img:7`);
      assert.equal(pushed.digest, sha(manifest));
      // A corrupt blob in an archive is refused and leaves nothing.
      const bad = new TarWriter();
      bad.add({ name: "index.json", data: JSON.stringify(index) });
      bad.add({ name: `blobs/sha256/${"0".repeat(64)}`, data: "nope" });
      const env2 = await testEnv();
      try {
        await assert.rejects(env2.svc.load(ReadableStream.from([bad.finish()])), /has digest/);
        assert.deepEqual(env2.svc.content.list(), []);
      } finally {
        await env2.cleanup();
      }
    } finally {
      await env.cleanup();
      await reg.stop();
    }
  },
});

Deno.test({
  name: "service: import a gzip rootfs tarball as a one-layer image with changes",
  ...requires("root"),
  async fn() {
    const env = await testEnv();
    try {
      const w = new TarWriter();
      w.add({ name: "bin/", type: "dir" });
      w.add({ name: "bin/tool", data: "#!/bin/sh\n", mode: 0o755 });
      const tar = w.finish();
      const id = await env.svc.import(ReadableStream.from([new Uint8Array(zlib.gzipSync(tar))]), {
        ref: "imported:1",
        changes: ['CMD ["/bin/tool"]', "ENV A=b", "WORKDIR /bin", "EXPOSE 80"],
      });
      const ins = env.svc.inspect("imported:1");
      assert.equal(ins.Id, id);
      assert.deepEqual(ins.RepoTags, ["imported:1"]);
      assert.deepEqual(ins.RootFS.Layers, [sha(tar)]);
      const run = await env.svc.resolveForRun("imported:1");
      assert.deepEqual(run.config.Cmd, ["/bin/tool"]);
      assert.deepEqual(run.config.Env, ["A=b"]);
      assert.equal(run.config.WorkingDir, "/bin");
      assert.deepEqual(run.config.ExposedPorts, { "80/tcp": {} });
      const st = fs.statSync(path.join(run.layerDiffDirs[0], "bin/tool"));
      assert.equal(st.mode & 0o777, 0o755);
    } finally {
      await env.cleanup();
    }
  },
});
