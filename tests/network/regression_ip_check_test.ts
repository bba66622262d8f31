/**
 * Regression: a bad `--ip` on a user network (outside the subnet, the gateway, the broadcast
 * address, not an address) was only refused when the container started, so `run` left a
 * `Created` container behind, and the message named the network by its 64-hex id. Now it is
 * refused at create (nothing left, as Docker validates endpoint settings at create), naming the
 * network.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { Engine } from "../../src/engine.ts";
import { InvalidArgumentError } from "../../src/errors.ts";
import { ensureFixtures } from "../_helpers/fixtures.ts";
import { requires } from "../_helpers/requires.ts";
import { run, testName } from "./_helpers.ts";

Deno.test({
  name: "regression: a bad --ip is refused at create, naming the network, leaving nothing",
  ...requires("root", "overlay", "busybox"),
  async fn() {
    const fx = await ensureFixtures();
    const dir = await Deno.makeTempDir({ prefix: "dts-net-reg-" });
    const prefix = testName("").slice(0, 8);
    const table = testName("t");
    const engine = new Engine({
      root: path.join(dir, "root"),
      runroot: path.join(dir, "run"),
      network: {
        defaultBridge: testName("b"),
        bridgePrefix: prefix,
        vethPrefix: `${prefix.slice(4)}v`,
        natTable: table,
      },
    });
    const name = testName("n");
    try {
      await engine.load(fx.dockerArchive("busybox"));
      // Internal: no masquerade, no ip_forward change; only the bridge is made.
      const net = await engine.network();
      await net.createNetwork({ name, subnet: "10.231.30.0/24", internal: true });
      const cases: [string, RegExp][] = [
        ["10.231.31.5", /not in subnet "10\.231\.30\.0\/24" of network "dtst/],
        ["10.231.30.1", /the gateway address of network "dtst/],
        ["10.231.30.0", /the network address of network "dtst/],
        ["10.231.30.255", /the broadcast address of network "dtst/],
        ["abc", /Invalid --ip "abc": not an IPv4 address/],
      ];
      for (const [ip, re] of cases) {
        await assert.rejects(
          engine.create({ image: "busybox", cmd: ["true"], network: name, ip }),
          (err: Error) => {
            assert.ok(err instanceof InvalidArgumentError, `${ip}: ${err}`);
            assert.match(err.message, re);
            assert.ok(!err.message.includes("\n"));
            assert.ok(!/[0-9a-f]{64}/.test(err.message), `no id in "${err.message}"`);
            return true;
          },
        );
      }
      assert.deepEqual(await engine.list({ all: true }), [], "no container was left");
      // A good one is still accepted at create.
      await engine.create({ image: "busybox", cmd: ["true"], network: name, ip: "10.231.30.9" });
      assert.equal((await engine.list({ all: true })).length, 1);
    } finally {
      const net = await engine.network();
      await net.close();
      for (const n of net.store.networks()) run("ip", ["link", "del", n.bridge]);
      await Deno.remove(dir, { recursive: true });
    }
  },
});
