import assert from "node:assert/strict";
import { Router, splitVersion } from "../../src/api/router.ts";
import { InvalidArgumentError } from "../../src/errors.ts";

function table(): Router<string> {
  return new Router<string>()
    .add("GET", "/images/json", "list")
    .add("GET", "/images/get", "save")
    .add("GET", "/images/{name+}/json", "inspect")
    .add("POST", "/images/{name+}/tag", "tag")
    .add("DELETE", "/images/{name+}", "rmi")
    .add("GET", "/containers/{id}/json", "cinspect")
    .add("GET", "/_ping", "ping");
}

Deno.test("router: versioned and unversioned paths reach the same handler", () => {
  const r = table();
  assert.equal(r.match("GET", "/v1.41/containers/abc/json")?.handler, "cinspect");
  assert.equal(r.match("GET", "/containers/abc/json")?.params.id, "abc");
  assert.equal(r.match("GET", "/v1.41/containers/abc/json")?.version, "1.41");
  assert.equal(r.match("GET", "/containers/abc/json")?.version, undefined);
  assert.equal(r.match("GET", "/v1.24/_ping")?.handler, "ping");
  assert.equal(r.match("HEAD", "/_ping")?.handler, "ping", "HEAD falls back to GET");
  assert.equal(r.match("POST", "/_ping"), undefined);
  assert.equal(r.match("GET", "/nope"), undefined);
});

Deno.test("router: image names with / and : match from the right-hand suffix", () => {
  const r = table();
  const m = r.match("GET", "/v1.41/images/127.0.0.1:5000/busybox/json");
  assert.deepEqual([m?.handler, m?.params.name], ["inspect", "127.0.0.1:5000/busybox"]);
  assert.equal(r.match("GET", "/images/busybox:tagged/json")?.params.name, "busybox:tagged");
  assert.equal(r.match("GET", "/images/json")?.handler, "list", "static path wins");
  assert.equal(r.match("GET", "/images/get")?.handler, "save");
  assert.equal(r.match("POST", "/images/a/b/c:1/tag")?.params.name, "a/b/c:1");
  assert.equal(
    r.match("DELETE", "/images/127.0.0.1:5000/x/y:z")?.params.name,
    "127.0.0.1:5000/x/y:z",
  );
  assert.equal(r.match("GET", "/images/sha256%3Aabc/json")?.params.name, "sha256:abc", "decoded");
  // A repository literally named "json" still works: only the last segment is the suffix.
  assert.equal(r.match("GET", "/images/json/json")?.params.name, "json");
});

Deno.test("router: versions outside 1.12..1.41 are refused with docker's wording", () => {
  assert.throws(
    () => splitVersion("/v1.99/info"),
    (e: unknown) =>
      e instanceof InvalidArgumentError &&
      e.message === "client version 1.99 is too new. Maximum supported API version is 1.41",
  );
  assert.throws(
    () => splitVersion("/v1.11/info"),
    /too old\. Minimum supported API version is 1\.12/,
  );
  assert.deepEqual(splitVersion("/v1.40/info"), { version: "1.40", rest: "/info" });
  assert.deepEqual(splitVersion("/v1.41"), { version: "1.41", rest: "/" });
});
