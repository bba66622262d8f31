/**
 * Regression: every fresh root used to pick the next free pool for the default network and add
 * its gateway (and masquerade) to the shared default bridge, never removed — after ~30 roots
 * `docker-ts0` carried every default pool and the next root failed with "Cannot choose a subnet".
 * Now an existing bridge with an address is adopted, as dockerd does with docker0.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { listAddresses } from "../../src/network/addresses.ts";
import { getLink } from "../../src/network/links.ts";
import { NetworkManager } from "../../src/network/manager.ts";
import { RouteSocket } from "../../src/network/socket.ts";
import { requires } from "../_helpers/requires.ts";
import { mustRun, run, testName } from "./_helpers.ts";

Deno.test({
  name: "regression: a fresh root adopts the default bridge's existing subnet",
  ...requires("root"),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "dts-net-reg-" });
    const bridge = testName("b");
    try {
      mustRun("ip", ["link", "add", bridge, "type", "bridge"]);
      mustRun("ip", ["addr", "add", "10.231.7.1/24", "dev", bridge]);
      for (const r of ["r1", "r2"]) {
        const m = new NetworkManager({
          root: path.join(dir, r),
          runroot: path.join(dir, `${r}-run`),
          defaultBridge: bridge,
          natTable: testName("t"),
        });
        const n = await m.ensureDefault();
        assert.equal(n.subnet, "10.231.7.0/24");
        assert.equal(n.gateway, "10.231.7.1");
        assert.equal(n.bridge, bridge);
        assert.deepEqual(m.ipam.getNetwork(n.id)?.subnet, "10.231.7.0/24");
      }
      using s = RouteSocket.open();
      const link = getLink(s, bridge);
      assert.ok(link);
      // Nothing was stacked on the device.
      assert.deepEqual(listAddresses(s, link.index).map((a) => a.address), ["10.231.7.1"]);
    } finally {
      run("ip", ["link", "del", bridge]);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "regression: a configured default subnet still wins over the bridge's address",
  ...requires("root"),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "dts-net-reg-" });
    const bridge = testName("b");
    try {
      mustRun("ip", ["link", "add", bridge, "type", "bridge"]);
      mustRun("ip", ["addr", "add", "10.231.8.1/24", "dev", bridge]);
      const m = new NetworkManager({
        root: path.join(dir, "root"),
        runroot: path.join(dir, "run"),
        defaultBridge: bridge,
        defaultSubnet: "10.231.9.0/24",
      });
      const n = await m.ensureDefault();
      assert.equal(n.subnet, "10.231.9.0/24");
    } finally {
      run("ip", ["link", "del", bridge]);
      await Deno.remove(dir, { recursive: true });
    }
  },
});
