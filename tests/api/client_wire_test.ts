/**
 * The client's HTTP reading against a scripted unix-socket server: bodies by length, chunked
 * (split anywhere), none (204, HEAD), an upgraded raw stream, and bodies cut short. No root.
 */
import assert from "node:assert/strict";
import { Client } from "../../src/api/client.ts";
import { encodeFrame } from "../../src/api/stream_framing.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

type Handler = (method: string, path: string, conn: Deno.UnixConn) => Promise<void>;

/** Serves each connection with `handler` after reading one request head (and its body). */
async function scripted(handler: Handler): Promise<{ socket: string; close(): Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix: "docker-ts-wire-" });
  const socket = `${dir}/s.sock`;
  const listener = Deno.listen({ transport: "unix", path: socket });
  const conns = new Set<Promise<void>>();
  const serving = (async () => {
    for await (const conn of listener) {
      const p = (async () => {
        let buf = "";
        const chunk = new Uint8Array(65536);
        while (!buf.includes("\r\n\r\n")) {
          const n = await conn.read(chunk);
          if (n === null) return;
          buf += dec.decode(chunk.subarray(0, n));
        }
        const [line] = buf.split("\r\n");
        const [method, target] = line.split(" ");
        const len = Number(/content-length: (\d+)/i.exec(buf)?.[1] ?? 0);
        while (buf.length - buf.indexOf("\r\n\r\n") - 4 < len) {
          const n = await conn.read(chunk);
          if (n === null) break;
          buf += dec.decode(chunk.subarray(0, n));
        }
        await handler(method, new URL(target, "http://x").pathname.replace(/^\/v[\d.]+/, ""), conn);
      })().catch(() => {}).finally(() => {
        try {
          conn.close();
        } catch {
          // closed by the handler
        }
      });
      conns.add(p);
      p.finally(() => conns.delete(p));
    }
  })();
  return {
    socket,
    async close() {
      listener.close();
      await serving.catch(() => {});
      await Promise.all(conns);
      await Deno.remove(dir, { recursive: true });
    },
  };
}

async function send(conn: Deno.Conn, ...parts: (string | Uint8Array)[]): Promise<void> {
  for (const p of parts) {
    let b = typeof p === "string" ? enc.encode(p) : p;
    while (b.length) b = b.subarray(await conn.write(b));
  }
}

const SUMMARY = [{ Id: "a".repeat(64), Names: ["/one"], State: "running" }];

Deno.test("client wire: a chunked body split mid-chunk-header, with mixed-case headers, is read whole", async () => {
  const json = JSON.stringify(SUMMARY);
  const body = `${json.length.toString(16)}\r\n${json}\r\n0\r\n\r\n`;
  // Split inside the size line, inside the data and inside the terminator: one request each.
  const cuts = [1, 7, body.length - 3];
  let n = 0;
  const s = await scripted(async (_m, _p, conn) => {
    const cut = cuts[n++];
    await send(
      conn,
      "HTTP/1.1 200 OK\r\nTRANSFER-ENCODING: Chunked\r\nContent-Type: application/json\r\n\r\n",
    );
    await send(conn, body.slice(0, cut));
    await new Promise((r) => setTimeout(r, 5));
    await send(conn, body.slice(cut));
  });
  try {
    const api = new Client({ socket: s.socket });
    for (const _ of cuts) assert.deepEqual(await api.list(), SUMMARY);
    assert.equal(n, cuts.length);
  } finally {
    await s.close();
  }
});

Deno.test("client wire: error answers carry the daemon's message and kind; 204 and HEAD have no body", async () => {
  const s = await scripted(async (method, path, conn) => {
    if (path === "/containers/x/json") {
      const msg = JSON.stringify({ message: "No such container: x" });
      await send(conn, `HTTP/1.1 404 Not Found\r\nContent-Length: ${msg.length}\r\n\r\n${msg}`);
    } else if (path === "/containers/x/stop") {
      await send(conn, "HTTP/1.1 204 No Content\r\n\r\n");
    } else if (method === "HEAD") {
      const stat = btoa(
        JSON.stringify({ name: "etc", size: 0, mode: 2147484141, mtime: "", linkTarget: "" }),
      );
      // A HEAD answer announces a length but sends no body: reading one would hang.
      await send(
        conn,
        `HTTP/1.1 200 OK\r\nContent-Length: 4096\r\nX-Docker-Container-Path-Stat: ${stat}\r\n\r\n`,
      );
      await new Promise((r) => setTimeout(r, 200));
    }
  });
  try {
    const api = new Client({ socket: s.socket });
    await assert.rejects(api.inspect("x"), (e: Error & { kind?: string }) => {
      assert.equal(e.kind, "NotFound");
      assert.equal(e.message, "No such container: x");
      return true;
    });
    await api.stop("x");
    const st = await api.statPath("x", "/etc");
    assert.equal(st.name, "etc");
  } finally {
    await s.close();
  }
});

Deno.test("client wire: a body cut short is an error, not a truncated answer", async () => {
  const s = await scripted(async (_m, path, conn) => {
    if (path === "/containers/json") {
      await send(conn, 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n[{"Id":');
    } else {
      await send(conn, 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n20\r\n[{"Id":');
    }
  });
  try {
    const api = new Client({ socket: s.socket });
    await assert.rejects(api.list(), /ended a response early/);
    await assert.rejects(api.listImages(), /ended a chunked response early/);
  } finally {
    await s.close();
  }
});

Deno.test("client wire: run demuxes an upgraded attach stream into Deno-style writers", async () => {
  const id = "c".repeat(64);
  const s = await scripted(async (_m, path, conn) => {
    if (path === "/containers/create") {
      const b = JSON.stringify({ Id: id, Warnings: [] });
      await send(conn, `HTTP/1.1 201 Created\r\nContent-Length: ${b.length}\r\n\r\n${b}`);
    } else if (path.endsWith("/attach")) {
      await send(
        conn,
        "HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n",
      );
      const frames = [
        ...encodeFrame(1, enc.encode("out-1 ")),
        ...encodeFrame(2, enc.encode("err")),
        ...encodeFrame(1, enc.encode("out-2")),
      ];
      // Frames split across writes, one byte into the next header.
      await send(conn, new Uint8Array(frames.slice(0, 15)));
      await new Promise((r) => setTimeout(r, 5));
      await send(conn, new Uint8Array(frames.slice(15)));
    } else if (path.endsWith("/wait")) {
      await send(conn, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
      await new Promise((r) => setTimeout(r, 30));
      const b = JSON.stringify({ StatusCode: 3, Error: null });
      await send(conn, `${b.length.toString(16)}\r\n${b}\r\n0\r\n\r\n`);
    } else if (path.endsWith("/start")) {
      await send(conn, "HTTP/1.1 204 No Content\r\n\r\n");
    }
  });
  try {
    const api = new Client({ socket: s.socket });
    let out = "";
    let err = "";
    const writer = (into: (t: string) => void) => ({
      write(p: Uint8Array): Promise<number> {
        // Takes at most 2 bytes a call: the client must write the rest itself.
        const n = Math.min(2, p.length);
        into(dec.decode(p.subarray(0, n)));
        return Promise.resolve(n);
      },
    });
    const code = await api.run({ image: "busybox", rm: true }, {
      stdout: writer((t) => out += t),
      stderr: writer((t) => err += t),
    });
    assert.deepEqual([code, out, err], [3, "out-1 out-2", "err"]);
  } finally {
    await s.close();
  }
});
