import assert from "node:assert/strict";
import dgram from "node:dgram";
import { buildResponse, DnsServer, parseQuery } from "../../src/network/dns_server.ts";

function query(name: string, type = 1, id = 0x1234): Uint8Array {
  const labels = name.split(".").flatMap((l) => [l.length, ...new TextEncoder().encode(l)]);
  const q = new Uint8Array(12 + labels.length + 1 + 4);
  const dv = new DataView(q.buffer);
  dv.setUint16(0, id);
  dv.setUint16(2, 0x0100);
  dv.setUint16(4, 1);
  q.set(labels, 12);
  dv.setUint16(12 + labels.length + 1, type);
  dv.setUint16(12 + labels.length + 3, 1);
  return q;
}

function ask(port: number, msg: Uint8Array): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket("udp4");
    const t = setTimeout(() => {
      s.close();
      reject(new Error("no answer"));
    }, 3000);
    s.on("message", (m: Uint8Array) => {
      clearTimeout(t);
      s.close();
      resolve(new Uint8Array(m));
    });
    s.send(msg, port, "127.0.0.1");
  });
}

function answers(resp: Uint8Array): { rcode: number; ips: string[] } {
  const dv = new DataView(resp.buffer);
  const q = parseQuery(
    resp.slice(0, 12 + resp.length - 12).map((b, i) => (i === 2 ? b & 0x7f : b)),
  );
  const n = dv.getUint16(6);
  const ips: string[] = [];
  let off = q!.end;
  for (let i = 0; i < n; i++) {
    const len = dv.getUint16(off + 10);
    ips.push([...resp.subarray(off + 12, off + 12 + len)].join("."));
    off += 12 + len;
  }
  return { rcode: dv.getUint16(2) & 0xf, ips };
}

Deno.test("dns: parse and build round trip", () => {
  const q = parseQuery(query("Web.Example"))!;
  assert.equal(q.name, "web.example");
  assert.equal(q.type, 1);
  const r = buildResponse(query("web"), parseQuery(query("web"))!, 0, ["10.0.0.2"]);
  assert.deepEqual(answers(r).ips, ["10.0.0.2"]);
  assert.equal(parseQuery(new Uint8Array(5)), undefined);
});

Deno.test("dns: answers container names, forwards the rest, SERVFAIL without upstream answer", async () => {
  // A fake upstream that answers everything with 192.0.2.99.
  const up = dgram.createSocket("udp4");
  await new Promise<void>((r) => up.bind(0, "127.0.0.1", () => r()));
  up.on("message", (m: Uint8Array, rinfo: dgram.RemoteInfo) => {
    const msg = new Uint8Array(m);
    up.send(buildResponse(msg, parseQuery(msg)!, 0, ["192.0.2.99"]), rinfo.port, rinfo.address);
  });
  const names: Record<string, string[]> = { web: ["10.9.0.5"], www: ["10.9.0.5"] };
  const server = await DnsServer.start({
    address: "127.0.0.1",
    port: 0,
    lookup: (n) => names[n] ?? [],
    upstreams: [`127.0.0.1:${up.address().port}`],
  });
  const dead = await DnsServer.start({
    address: "127.0.0.1",
    port: 0,
    lookup: () => [],
    upstreams: ["127.0.0.1:9"],
    upstreamTimeoutMs: 200,
  });
  try {
    assert.deepEqual(answers(await ask(server.port, query("web"))), {
      rcode: 0,
      ips: ["10.9.0.5"],
    });
    assert.deepEqual(answers(await ask(server.port, query("WWW"))).ips, ["10.9.0.5"]);
    // AAAA for a known name: NOERROR, no records.
    assert.deepEqual(answers(await ask(server.port, query("web", 28))), { rcode: 0, ips: [] });
    const fwd = await ask(server.port, query("example.org", 1, 0x4321));
    assert.equal(new DataView(fwd.buffer).getUint16(0), 0x4321);
    assert.deepEqual(answers(fwd).ips, ["192.0.2.99"]);
    assert.equal(answers(await ask(dead.port, query("nowhere"))).rcode, 2);
  } finally {
    await server.close();
    await dead.close();
    up.close();
  }
});
