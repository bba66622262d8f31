import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { Buffer } from "node:buffer";
import { requires } from "../_helpers/requires.ts";
import { startRegistry } from "../_helpers/registry.ts";
import { makeLayer, pushImage, testClient, testEnv } from "./_util.ts";
import { NotFoundError, UnauthorizedError, UnavailableError } from "../../src/errors.ts";
import { AuthConfig } from "../../src/image/auth_config.ts";
import { freePort } from "../_helpers/registry.ts";

const needs = requires("root", "docker-registry");
const CREDS = { username: "tester", password: "s3cret" };

for (const mode of ["token", "basic"] as const) {
  Deno.test({
    name:
      `auth (${mode}): anonymous pull is denied, login stores config.json, pull and push work, logout forgets`,
    ...needs,
    async fn() {
      const reg = await startRegistry({ auth: mode });
      const env = await testEnv();
      try {
        const layer = makeLayer({ "f": mode });
        await pushImage(testClient(CREDS), `${reg.host}/priv/img:1`, [layer]);
        // Anonymous: docker's message.
        await assert.rejects(env.svc.pull(`${reg.host}/priv/img:1`), (err: unknown) => {
          assert.ok(err instanceof UnauthorizedError, String(err));
          assert.match(
            err.message,
            new RegExp(
              `^pull access denied for ${reg.host}/priv/img, repository does not exist or may require 'docker login'`,
            ),
          );
          return true;
        });
        // Wrong password: login fails and writes nothing.
        await assert.rejects(
          env.svc.login({ server: reg.host, username: "tester", password: "nope" }),
          (err: unknown) =>
            err instanceof UnauthorizedError && /incorrect username or password/.test(err.message),
        );
        const file = path.join(env.dir, "docker", "config.json");
        assert.equal(fs.existsSync(file), false);
        await env.svc.login({ server: reg.host, username: "tester", password: "s3cret" });
        const doc = JSON.parse(fs.readFileSync(file, "utf8"));
        assert.deepEqual(doc, {
          auths: { [reg.host]: { auth: Buffer.from("tester:s3cret").toString("base64") } },
        });
        assert.equal(fs.statSync(file).mode & 0o777, 0o600);
        const res = await env.svc.pull(`${reg.host}/priv/img:1`);
        assert.equal(env.svc.inspect(res.imageId).Id, res.imageId);
        if (mode === "token") assert.ok(reg.tokenRequests() > 0);
        // push under another name with the stored credentials, then pull it back elsewhere.
        env.svc.tag(`${reg.host}/priv/img:1`, `${reg.host}/priv/copy:2`);
        const pushed = await env.svc.push(`${reg.host}/priv/copy:2`);
        const env2 = await testEnv({ authConfigPath: file });
        try {
          const again = await env2.svc.pull(`${reg.host}/priv/copy:2`);
          assert.equal(again.imageId, res.imageId);
          assert.equal(again.manifestDigest, pushed.digest);
        } finally {
          await env2.cleanup();
        }
        assert.equal(env.svc.logout(reg.host), true);
        assert.deepEqual(JSON.parse(fs.readFileSync(file, "utf8")), { auths: {} });
        assert.equal(env.svc.logout(reg.host), false);
      } finally {
        await env.cleanup();
        await reg.stop();
      }
    },
  });
}

Deno.test({
  name: "auth (token): anonymous pull allowed when the token server grants it",
  ...needs,
  async fn() {
    const reg = await startRegistry({ auth: "token", anonymousPull: true });
    const env = await testEnv();
    try {
      await pushImage(testClient(CREDS), `${reg.host}/pub/img:1`, [makeLayer({ "x": "1" })]);
      const res = await env.svc.pull(`${reg.host}/pub/img:1`);
      assert.ok(res.imageId.startsWith("sha256:"));
    } finally {
      await env.cleanup();
      await reg.stop();
    }
  },
});

Deno.test({
  name:
    "registry errors: unknown manifest / repository give docker's messages, unreachable is Unavailable",
  ...needs,
  async fn() {
    const reg = await startRegistry();
    const env = await testEnv();
    try {
      await pushImage(testClient(), `${reg.host}/some/img:1`, [makeLayer({ "x": "1" })]);
      await assert.rejects(env.svc.pull(`${reg.host}/some/img:nope`), (err: unknown) => {
        assert.ok(err instanceof NotFoundError);
        assert.equal(
          err.message,
          `manifest for ${reg.host}/some/img:nope not found: manifest unknown`,
        );
        return true;
      });
      await assert.rejects(env.svc.pull(`${reg.host}/nothing/here`), (err: unknown) => {
        assert.ok(err instanceof NotFoundError);
        // distribution 2.8 answers MANIFEST_UNKNOWN for unknown repositories too.
        assert.equal(
          err.message,
          `manifest for ${reg.host}/nothing/here:latest not found: manifest unknown`,
        );
        return true;
      });
      const port = freePort();
      await assert.rejects(env.svc.pull(`127.0.0.1:${port}/x/y`), (err: unknown) => {
        assert.ok(err instanceof UnavailableError);
        assert.match(err.message, new RegExp(`^Cannot reach registry "127.0.0.1:${port}"`));
        return true;
      });
      assert.equal(env.svc.list().length, 0);
    } finally {
      await env.cleanup();
      await reg.stop();
    }
  },
});

Deno.test("auth config: reads docker's formats, keeps other keys, hub aliases", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = path.join(dir, "config.json");
    fs.writeFileSync(
      file,
      JSON.stringify({
        auths: {
          "https://index.docker.io/v1/": { auth: Buffer.from("hub:pw").toString("base64") },
          "http://reg.example:5000": { auth: Buffer.from("u:p:with:colons").toString("base64") },
        },
        credsStore: "desktop",
      }),
    );
    const a = new AuthConfig(file);
    assert.deepEqual(a.get("registry-1.docker.io"), { username: "hub", password: "pw" });
    assert.deepEqual(a.get("docker.io"), { username: "hub", password: "pw" });
    assert.deepEqual(a.get("reg.example:5000"), { username: "u", password: "p:with:colons" });
    assert.equal(a.get("other"), undefined);
    a.set("reg.example:5000", { username: "n", password: "q" });
    const doc = JSON.parse(fs.readFileSync(file, "utf8"));
    assert.equal(doc.credsStore, "desktop");
    assert.deepEqual(Object.keys(doc.auths).sort(), [
      "https://index.docker.io/v1/",
      "reg.example:5000",
    ]);
    assert.ok(a.remove("docker.io"));
    assert.equal(a.get("docker.io"), undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
