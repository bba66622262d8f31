/**
 * Regression: the embedded DNS of an `--internal` network forwarded unknown names to the host's
 * resolvers, a way out of a network that must reach nothing outside (Docker's embedded DNS does
 * not forward for internal networks). Container names still resolve.
 */
import assert from "node:assert/strict";
import * as dgram from "node:dgram";
import * as path from "node:path";
import { Engine } from "../../src/engine.ts";
import { ensureFixtures } from "../_helpers/fixtures.ts";
import { requires } from "../_helpers/requires.ts";
import { run, testName } from "./_helpers.ts";

/** A sink that keeps what it is given (the engine need not close it). */
function sink(): { stream: WritableStream<Uint8Array>; text: () => string } {
  const chunks: Uint8Array[] = [];
  return {
    stream: new WritableStream({ write: (c) => void chunks.push(c.slice()) }),
    text: () => new TextDecoder().decode(new Uint8Array(chunks.flatMap((c) => [...c]))),
  };
}

Deno.test({
  name: "regression: an internal network's DNS answers container names and forwards nothing",
  ...requires("root", "overlay", "busybox", "nft"),
  async fn() {
    const fx = await ensureFixtures();
    const dir = await Deno.makeTempDir({ prefix: "dts-net-idns-" });
    const prefix = testName("").slice(0, 8);
    // A stand-in upstream on loopback that records every query it gets.
    const upstream = dgram.createSocket("udp4");
    let upstreamQueries = 0;
    upstream.on("message", () => upstreamQueries++);
    await new Promise<void>((resolve) => upstream.bind(0, "127.0.0.1", resolve));
    const upstreamPort = upstream.address().port;
    const engine = new Engine({
      root: path.join(dir, "root"),
      runroot: path.join(dir, "run"),
      network: {
        defaultBridge: testName("b"),
        bridgePrefix: prefix,
        vethPrefix: `${prefix.slice(4)}v`,
        natTable: testName("t"),
        dnsUpstreams: [`127.0.0.1:${upstreamPort}`],
      },
    });
    const name = testName("n");
    try {
      await engine.load(fx.dockerArchive("busybox"));
      const net = await engine.network();
      await net.createNetwork({ name, subnet: "10.231.41.0/24", internal: true });
      const { Id: server } = await engine.create({
        image: "busybox",
        name: `${name}-srv`,
        cmd: ["sleep", "30"],
        network: name,
      });
      await engine.start(server);
      const out = sink();
      const code = await engine.run({
        image: "busybox",
        rm: true,
        network: name,
        cmd: [
          "sh",
          "-c",
          `nslookup ${name}-srv >/dev/null 2>&1 && echo own-ok; ` +
          "nslookup outside.example.com >/dev/null 2>&1 || echo outside-refused",
        ],
      }, { stdout: out.stream });
      assert.equal(code, 0);
      assert.equal(out.text(), "own-ok\noutside-refused\n");
      assert.equal(upstreamQueries, 0, "an internal network's DNS asked an upstream");
      await engine.remove(server, { force: true });
    } finally {
      await new Promise<void>((resolve) => upstream.close(() => resolve()));
      const net = await engine.network();
      await net.close();
      for (const n of net.store.networks()) run("ip", ["link", "del", n.bridge]);
      await Deno.remove(dir, { recursive: true });
    }
  },
});
