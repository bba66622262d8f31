import assert from "node:assert/strict";
import * as path from "node:path";
import { type HttpHandler, HttpServer } from "../../src/api/http_server.ts";
import { RawConn, request } from "./_raw.ts";

const dec = new TextDecoder();
const enc = new TextEncoder();

async function withServer(
  handler: HttpHandler,
  fn: (sock: string, server: HttpServer) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "docker-ts-http-" });
  const sock = path.join(dir, "s.sock");
  const server = new HttpServer(Deno.listen({ transport: "unix", path: sock }), handler, {
    defaultHeaders: { "Api-Version": "1.41" },
  });
  try {
    await fn(sock, server);
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const echo: HttpHandler = async (req, res) => {
  if (req.path === "/echo") {
    const body = new Uint8Array(await new Response(req.body).arrayBuffer());
    await res.send(200, body, { "Content-Type": "text/plain", "X-Method": req.method });
    return;
  }
  if (req.path === "/chunks") {
    const out = await res.stream(200, { "Content-Type": "application/json" });
    for (const s of ["a", "bb", "ccc"]) await out.write(s);
    await out.end();
    return;
  }
  if (req.path === "/empty") {
    await res.send(204);
    return;
  }
  await res.send(200, `hello ${req.query.get("n") ?? ""}`);
};

Deno.test("http: keep-alive serves several requests on one connection, in order", async () => {
  await withServer(echo, async (sock) => {
    const c = await RawConn.open(sock);
    try {
      // Three requests written at once (pipelined): answered one after another.
      await c.send(
        request("GET", "/hi?n=1") + request("POST", "/echo", { body: "ping" }) +
          request("GET", "/chunks"),
      );
      const r1 = await c.response();
      assert.equal(r1.status, 200);
      assert.equal(r1.body, "hello 1");
      assert.equal(r1.headers.get("api-version"), "1.41");
      assert.equal(r1.headers.get("content-length"), "7");
      const r2 = await c.response();
      assert.deepEqual([r2.body, r2.headers.get("x-method")], ["ping", "POST"]);
      const r3 = await c.response();
      assert.equal(r3.headers.get("transfer-encoding"), "chunked");
      assert.equal(r3.body, "abbccc");
      await c.send(request("GET", "/empty"));
      const r4 = await c.response();
      assert.equal(r4.status, 204);
      assert.ok(!r4.head.includes("Content-Length"), r4.head);
    } finally {
      c.close();
    }
  });
});

Deno.test("http: chunked request bodies are de-chunked (extensions, trailers, split writes)", async () => {
  await withServer(echo, async (sock) => {
    const c = await RawConn.open(sock);
    try {
      await c.send(
        "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhel",
      );
      await new Promise((r) => setTimeout(r, 20));
      await c.send("lo\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n");
      const r = await c.response();
      assert.equal(r.body, "hello world");
      // The connection is still usable after a chunked body.
      await c.send(request("GET", "/again?n=2"));
      assert.equal((await c.response()).body, "hello 2");
    } finally {
      c.close();
    }
  });
});

Deno.test("http: an unread body is drained so the next request parses", async () => {
  await withServer(echo, async (sock) => {
    const c = await RawConn.open(sock);
    try {
      await c.send(
        request("POST", "/ignored", { body: "x".repeat(100_000) }) + request("GET", "/x?n=3"),
      );
      assert.equal((await c.response()).body, "hello ");
      assert.equal((await c.response()).body, "hello 3");
    } finally {
      c.close();
    }
  });
});

Deno.test("http: HEAD gets headers without a body; Connection: close closes", async () => {
  await withServer(echo, async (sock) => {
    const c = await RawConn.open(sock);
    try {
      await c.send(request("HEAD", "/x", { headers: { Connection: "close" } }));
      const head = await c.readUntil("\r\n\r\n");
      assert.match(head, /^HTTP\/1\.1 200 OK\r\n/);
      assert.match(head, /Content-Length: 6\r\n/);
      assert.match(head, /Connection: close\r\n/);
      assert.equal((await c.rest()).length, 0, "no body, then EOF");
    } finally {
      c.close();
    }
  });
});

Deno.test("http: malformed requests get 400 and the connection closes", async () => {
  await withServer(echo, async (sock) => {
    const c = await RawConn.open(sock);
    try {
      await c.send("NONSENSE\r\n\r\n");
      const r = await c.response();
      assert.equal(r.status, 400);
      assert.match(JSON.parse(r.body).message, /Malformed request line/);
      assert.equal((await c.rest()).length, 0);
    } finally {
      c.close();
    }
  });
  await withServer(echo, async (sock) => {
    const c = await RawConn.open(sock);
    try {
      await c.send("POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
      const r = await c.response();
      assert.equal(r.status, 500, "handler saw a broken body");
    } finally {
      c.close();
    }
  });
});

Deno.test("http: hijack writes the head byte-exact, echoes stdin, half-close ends input", async () => {
  const head =
    "HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n";
  const handler: HttpHandler = async (req, res) => {
    await new Response(req.body).arrayBuffer();
    const conn = await res.hijack(head);
    let got = "";
    for await (const chunk of conn.readable) {
      got += dec.decode(chunk);
      await conn.write(enc.encode(dec.decode(chunk).toUpperCase()));
    }
    // The client half-closed: we can still write.
    await conn.write(enc.encode(`|got ${got.length}`));
    await conn.closeWrite();
  };
  await withServer(handler, async (sock, server) => {
    const c = await RawConn.open(sock);
    try {
      // Bytes sent right behind the request must reach the hijacked stream, not be lost.
      await c.send(
        request("POST", "/attach", {
          headers: { Connection: "Upgrade", Upgrade: "tcp" },
          body: "{}",
        }) +
          "early",
      );
      assert.equal(await c.readUntil("\r\n\r\n"), head);
      assert.equal(await c.readUntil("EARLY"), "EARLY");
      await c.send("more");
      assert.equal(await c.readUntil("MORE"), "MORE");
      await c.conn.closeWrite();
      assert.equal(dec.decode(await c.rest()), "|got 9");
    } finally {
      c.close();
    }
    for (let i = 0; i < 50 && server.connections > 0; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(server.connections, 0, "the server closed the hijacked connection");
  });
});

Deno.test("http: a streaming handler sees the client go away (signal aborts)", async () => {
  let aborted: () => void;
  const sawAbort = new Promise<void>((r) => aborted = r);
  const handler: HttpHandler = async (req, res) => {
    const out = await res.stream(200, { "Content-Type": "application/json" });
    await out.write("{}\n");
    await new Promise<void>((r) => req.signal.addEventListener("abort", () => r(), { once: true }));
    aborted();
  };
  await withServer(handler, async (sock) => {
    const c = await RawConn.open(sock);
    await c.send(request("POST", "/wait"));
    // Headers arrive before the handler finishes (docker run depends on it).
    const head = await c.readUntil("\r\n\r\n");
    assert.match(head, /Transfer-Encoding: chunked/);
    await c.readUntil("{}\n");
    c.close();
    await sawAbort;
  });
});
