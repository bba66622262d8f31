/**
 * Regressions found as a new user of the image verbs: `DOCKER_CONFIG=` writing credentials into
 * the current directory, `--platform bogus` searched for instead of refused, `save -o` into a
 * missing directory naming a temp file, `load -i` of a missing file repeating itself.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { requires } from "../_helpers/requires.ts";
import { defaultAuthConfigPath } from "../../src/image/auth_config.ts";
import { parsePlatform } from "../../src/image/manifest.ts";
import { InvalidArgumentError, NotFoundError } from "../../src/errors.ts";
import { listTree, makeLayer, testEnv } from "./_util.ts";
import { TarWriter } from "../../src/image/tar_writer.ts";
import { sha } from "./_util.ts";

function withEnv(vars: Record<string, string | undefined>, fn: () => void): void {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, Deno.env.get(k)]));
  try {
    for (const [k, v] of Object.entries(vars)) {
      if (v === undefined) Deno.env.delete(k);
      else Deno.env.set(k, v);
    }
    fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) Deno.env.delete(k);
      else Deno.env.set(k, v);
    }
  }
}

Deno.test("image regression: empty DOCKER_CONFIG means ~/.docker, not the current directory", () => {
  withEnv({ DOCKER_CONFIG: "", HOME: "/home/someone" }, () => {
    assert.equal(defaultAuthConfigPath(), "/home/someone/.docker/config.json");
  });
  withEnv({ DOCKER_CONFIG: "/etc/dcfg", HOME: "/home/someone" }, () => {
    assert.equal(defaultAuthConfigPath(), "/etc/dcfg/config.json");
  });
  withEnv({ DOCKER_CONFIG: undefined, HOME: "" }, () => {
    assert.equal(defaultAuthConfigPath(), "/root/.docker/config.json");
  });
});

Deno.test("image regression: a one-word --platform must be a known OS or architecture", () => {
  assert.throws(
    () => parsePlatform("bogus"),
    (e: unknown) =>
      e instanceof InvalidArgumentError &&
      e.message === 'Invalid platform "bogus": unknown operating system or architecture',
  );
  assert.deepEqual(parsePlatform("arm64"), { os: "linux", architecture: "arm64", variant: "v8" });
  assert.deepEqual(parsePlatform("i386"), { os: "linux", architecture: "386" });
  assert.deepEqual(parsePlatform("linux"), parsePlatform(`linux/${Deno.build.arch}`));
  assert.equal(parsePlatform("windows").os, "windows");
  // Two or three parts are taken as given, as containerd does.
  assert.deepEqual(parsePlatform("linux/riscv64"), { os: "linux", architecture: "riscv64" });
});

/** A minimal docker-archive with one image. */
function dockerArchive(tag: string): Uint8Array {
  const layer = makeLayer({ "hello.txt": "hi\n" });
  const config = new TextEncoder().encode(JSON.stringify({
    architecture: "amd64",
    os: "linux",
    config: {},
    rootfs: { type: "layers", diff_ids: [layer.diffId] },
  }));
  const configName = `${sha(config).slice(7)}.json`;
  const w = new TarWriter();
  const add = (name: string, data: Uint8Array | string) =>
    w.add({ name, data, mode: 0o644, mtime: 1700000000 });
  add("l0/layer.tar", layer.tar);
  add(configName, config);
  add(
    "manifest.json",
    JSON.stringify([{ Config: configName, RepoTags: [tag], Layers: ["l0/layer.tar"] }]),
  );
  return w.finish();
}

Deno.test({
  name: "image regression: save -o into a missing directory names it; load -i of a missing file",
  ...requires("root"),
  async fn() {
    const env = await testEnv();
    try {
      const archive = path.join(env.dir, "in.tar");
      await Deno.writeFile(archive, dockerArchive("reg/one:latest"));
      assert.deepEqual(await env.svc.load(archive), ["reg/one:latest"]);

      const missingDir = path.join(env.dir, "no", "such");
      await assert.rejects(
        env.svc.save(["reg/one"], path.join(missingDir, "out.tar")),
        (e: unknown) =>
          e instanceof InvalidArgumentError &&
          e.message ===
            `failed to save image: invalid output path: directory "${missingDir}" does not exist`,
      );
      // Nothing was written next to the archive either.
      assert.deepEqual(listTree(env.dir).filter((n) => n.includes(".tmp-")), []);

      const missing = path.join(env.dir, "nope.tar");
      assert.throws(
        () => env.svc.load(missing),
        (e: unknown) =>
          e instanceof NotFoundError &&
          e.message === `open ${missing}: no such file or directory` &&
          e.cause === undefined,
      );
    } finally {
      await env.cleanup();
    }
  },
});
