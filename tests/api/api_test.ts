// deno-lint-ignore-file no-explicit-any
import assert from "node:assert/strict";
import { FakeEngine } from "./_fake_engine.ts";
import { serveTest, type TestDaemon } from "./_daemon.ts";
import { RawConn, request } from "./_raw.ts";
import { FrameDecoder } from "../../src/api/stream_framing.ts";

const dec = new TextDecoder();

async function withApi(fn: (d: TestDaemon, e: FakeEngine) => Promise<void>): Promise<void> {
  const engine = new FakeEngine();
  const d = await serveTest(engine);
  try {
    await fn(d, engine);
  } finally {
    await engine.killAll();
    await d.stop();
  }
}

async function call(
  d: TestDaemon,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; headers: Headers; body: string; json: () => any }> {
  const c = await RawConn.open(d.socket);
  try {
    await c.send(request(
      method,
      path,
      body === undefined ? {} : {
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      },
    ));
    const r = await c.response();
    return { ...r, json: () => JSON.parse(r.body) };
  } finally {
    c.close();
  }
}

Deno.test("api: _ping HEAD/GET and the headers on every response", async () => {
  await withApi(async (d) => {
    const c = await RawConn.open(d.socket);
    try {
      await c.send(request("HEAD", "/_ping"));
      const head = await c.readUntil("\r\n\r\n");
      assert.match(head, /^HTTP\/1\.1 200 OK\r\n/);
      for (
        const h of [
          "Api-Version: 1.41",
          "Ostype: linux",
          "Docker-Experimental: false",
          "Content-Length: 0",
        ]
      ) {
        assert.ok(head.includes(`${h}\r\n`), `${h} in ${head}`);
      }
      assert.match(head, /Server: Docker\/[\d.]+ \(linux\)\r\n/);
      await c.send(request("GET", "/v1.41/_ping"));
      const r = await c.response();
      assert.equal(r.body, "OK");
    } finally {
      c.close();
    }
    const v = await call(d, "GET", "/version");
    assert.equal(v.json().ApiVersion, "1.41");
    assert.equal(v.headers.get("api-version"), "1.41");
  });
});

Deno.test("api: error shapes — version too new, page not found, 404/409/400", async () => {
  await withApi(async (d) => {
    const tooNew = await call(d, "GET", "/v1.99/info");
    assert.equal(tooNew.status, 400);
    assert.equal(
      tooNew.body,
      '{"message":"client version 1.99 is too new. Maximum supported API version is 1.41"}\n',
    );
    assert.deepEqual([(await call(d, "GET", "/nope")).status], [404]);
    const missing = await call(d, "GET", "/containers/nosuch/json");
    assert.deepEqual([missing.status, missing.json()], [404, {
      message: "No such container: nosuch",
    }]);
    const noImage = await call(d, "POST", "/containers/create", { Image: "alpine" });
    assert.deepEqual([noImage.status, noImage.json().message], [
      404,
      "No such image: alpine:latest",
    ]);
    const ok = await call(d, "POST", "/containers/create?name=web", {
      Image: "busybox",
      Cmd: ["true"],
    });
    assert.equal(ok.status, 201);
    assert.match(ok.json().Id, /^[a-f0-9]{64}$/);
    assert.deepEqual(ok.json().Warnings, []);
    const dup = await call(d, "POST", "/containers/create?name=web", { Image: "busybox" });
    assert.equal(dup.status, 409);
    const bad = await call(d, "POST", "/containers/create?name=-x", { Image: "busybox" });
    assert.equal(bad.status, 201, "the fake does not validate names; the engine does");
    const ports = await call(d, "POST", "/containers/create", {
      Image: "busybox",
      HostConfig: { PortBindings: { "80/tcp": [{ HostPort: "0" }] } },
    });
    assert.equal(ports.status, 201, "PortBindings map to the engine's publish options");
    const kill = await call(d, "POST", "/containers/web/kill");
    assert.equal(kill.status, 409, "kill of a container that is not running");
    assert.equal((await call(d, "POST", "/containers/web/stop")).status, 304);
    assert.equal((await call(d, "POST", "/containers/web/pause")).status, 501);
    assert.equal((await call(d, "POST", "/containers/web/exec", { Cmd: ["ls"] })).status, 501);
  });
});

Deno.test("api: docker run's sequence — attach (101), wait (headers at once), start, frames, exit code", async () => {
  await withApi(async (d) => {
    const created = await call(d, "POST", "/v1.41/containers/create?name=r1", {
      Image: "busybox",
      Cmd: ["sh", "-c", "echo out; echo err >&2; exit 3"],
      AttachStdout: true,
      AttachStderr: true,
    });
    const id = created.json().Id;
    const attach = await RawConn.open(d.socket);
    const wait = await RawConn.open(d.socket);
    try {
      await attach.send(
        request("POST", `/v1.41/containers/${id}/attach?stream=1&stdout=1&stderr=1`, {
          headers: { Connection: "Upgrade", Upgrade: "tcp", "Content-Type": "text/plain" },
        }),
      );
      assert.equal(
        await attach.readUntil("\r\n\r\n"),
        "HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n",
      );
      await attach.conn.closeWrite(); // the CLI half-closes at once when it has no stdin
      await wait.send(request("POST", `/v1.41/containers/${id}/wait?condition=next-exit`));
      // The head must arrive while the container has not even started.
      const head = await wait.readUntil("\r\n\r\n", 2000);
      assert.match(head, /^HTTP\/1\.1 200 OK\r\n/);
      assert.match(head, /Transfer-Encoding: chunked/);
      const start = await call(d, "POST", `/v1.41/containers/${id}/start`);
      assert.equal(start.status, 204);
      const raw = await attach.rest();
      const frames = new FrameDecoder().push(raw);
      const byStream = (n: number) =>
        frames.filter((f) => f.stream === n).map((f) => dec.decode(f.data)).join("");
      assert.equal(byStream(1), "out\n");
      assert.equal(byStream(2), "err\n");
      const body = await wait.readUntil("}\n");
      assert.match(body, /\{"Error":null,"StatusCode":3\}\n$/);
      const info = (await call(d, "GET", `/containers/${id}/json`)).json();
      assert.deepEqual([info.State.Status, info.State.ExitCode], ["exited", 3]);
    } finally {
      attach.close();
      wait.close();
    }
  });
});

Deno.test("api: attach without Upgrade gets the 200 raw-stream head; stdin reaches the process", async () => {
  await withApi(async (d) => {
    const id = (await call(d, "POST", "/containers/create", {
      Image: "busybox",
      Cmd: ["cat"],
      OpenStdin: true,
      Tty: true,
    })).json().Id;
    const a = await RawConn.open(d.socket);
    try {
      await a.send(
        request("POST", `/containers/${id}/attach?stream=true&stdin=true&stdout=true&stderr=true`, {
          body: '{"hijack":false}',
        }),
      );
      assert.equal(
        await a.readUntil("\r\n\r\n"),
        "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\n",
      );
      assert.equal((await call(d, "POST", `/containers/${id}/start`)).status, 204);
      assert.equal(
        (await call(d, "POST", `/containers/${id}/start`)).status,
        304,
        "already running",
      );
      await a.send("hello tty\n");
      await a.conn.closeWrite();
      // Tty: raw bytes, no frame headers.
      assert.equal(dec.decode(await a.rest()), "hello tty\n");
      const w = await call(d, "POST", `/containers/${id}/wait`);
      assert.equal(w.json().StatusCode, 0);
    } finally {
      a.close();
    }
  });
});

Deno.test("api: list filters in both JSON shapes, limit, status; rm of running is 409", async () => {
  await withApi(async (d) => {
    const mk = async (name: string, labels: Record<string, string>, cmd: string[]) =>
      (await call(d, "POST", `/containers/create?name=${name}`, {
        Image: "busybox",
        Labels: labels,
        Cmd: cmd,
      })).json().Id;
    const a = await mk("alpha", { app: "x", tier: "web" }, ["sleep", "30"]);
    await mk("beta", { app: "y" }, ["true"]);
    assert.equal((await call(d, "POST", `/containers/${a}/start`)).status, 204);
    const q = (f: unknown, extra = "") =>
      call(d, "GET", `/containers/json?filters=${encodeURIComponent(JSON.stringify(f))}${extra}`);
    const names = async (f: unknown, extra = "") =>
      (await q(f, extra)).json().map((c: any) => c.Names[0]).sort();
    assert.deepEqual(await names({ label: { "app=x": true } }, "&all=1"), ["/alpha"]);
    assert.deepEqual(await names({ label: ["app"] }, "&all=1"), ["/alpha", "/beta"]);
    assert.deepEqual(await names({ status: ["created"] }), ["/beta"], "status=created implies all");
    assert.deepEqual(await names({ status: { running: true } }), ["/alpha"]);
    assert.deepEqual(await names({ name: ["bet"] }, "&all=1"), ["/beta"]);
    assert.deepEqual(await names({ id: [a.slice(0, 8)] }, "&all=1"), ["/alpha"]);
    assert.deepEqual(await names({ ancestor: ["busybox:latest"] }, "&all=1"), ["/alpha", "/beta"]);
    assert.equal((await call(d, "GET", "/containers/json?limit=1")).json().length, 1);
    assert.equal((await q({ status: ["bogus"] })).status, 400);
    assert.equal((await q({ bogus: ["x"] })).status, 400);
    const rm = await call(d, "DELETE", `/containers/${a}`);
    assert.equal(rm.status, 409);
    assert.equal((await call(d, "DELETE", `/containers/alpha?force=1&v=1`)).status, 204);
    assert.equal((await call(d, "GET", `/containers/alpha/json`)).status, 404);
    const pruned = (await call(d, "POST", "/containers/prune")).json();
    assert.equal(pruned.ContainersDeleted.length, 1);
  });
});

Deno.test("api: AutoRemove — wait condition=removed reports the exit code, container gone", async () => {
  await withApi(async (d) => {
    const id = (await call(d, "POST", "/containers/create", {
      Image: "busybox",
      Cmd: ["sh", "-c", "exit 7"],
      HostConfig: { AutoRemove: true },
    })).json().Id;
    const w = await RawConn.open(d.socket);
    try {
      await w.send(request("POST", `/containers/${id}/wait?condition=removed`));
      await w.readUntil("\r\n\r\n");
      assert.equal((await call(d, "POST", `/containers/${id}/start`)).status, 204);
      assert.match(await w.readUntil("}\n"), /"StatusCode":7/);
      assert.equal((await call(d, "GET", `/containers/${id}/json`)).status, 404);
    } finally {
      w.close();
    }
  });
});

Deno.test("api: events stream what the API did", async () => {
  await withApi(async (d) => {
    const ev = await RawConn.open(d.socket);
    try {
      await ev.send(
        request("GET", "/events?filters=" + encodeURIComponent('{"type":["container"]}')),
      );
      await ev.readUntil("\r\n\r\n");
      await call(d, "POST", "/containers/create?name=ev1", { Image: "busybox", Cmd: ["true"] });
      const line = await ev.readUntil("\n", 3000);
      const chunk = await ev.readUntil("\r\n");
      const e = JSON.parse(chunk.slice(0, -2));
      assert.equal(line.trim().length > 0, true);
      assert.deepEqual([e.Type, e.Action, e.Actor.Attributes.name], ["container", "create", "ev1"]);
    } finally {
      ev.close();
    }
  });
});
