/**
 * Regression: `network create --subnet 192.0.2.0/24` on a host whose uplink is 192.0.2.0/24 (its
 * default gateway 192.0.2.1) was accepted: the bridge took 192.0.2.1 as a local address and the
 * host's own gateway became unreachable. A given subnet is only checked against docker-ts's own
 * networks by the IPAM; now it is also refused when a host route on another device overlaps it,
 * before anything is created.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { ConflictError } from "../../src/errors.ts";
import { getLink } from "../../src/network/links.ts";
import { NetworkManager } from "../../src/network/manager.ts";
import { RouteSocket } from "../../src/network/socket.ts";
import { requires } from "../_helpers/requires.ts";
import { mustRun, run, testName } from "./_helpers.ts";

Deno.test({
  name: "regression: a --subnet overlapping a host route on another device is refused",
  ...requires("root"),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "dts-net-reg-" });
    const uplink = testName("d");
    const prefix = testName("").slice(0, 8);
    const m = new NetworkManager({
      root: path.join(dir, "root"),
      runroot: path.join(dir, "run"),
      defaultBridge: testName("b"),
      bridgePrefix: prefix,
      natTable: testName("t"),
    });
    try {
      // A stand-in uplink: a veth (no dummy module here) with a routed subnet.
      mustRun("ip", ["link", "add", uplink, "type", "veth", "peer", "name", `${uplink}p`]);
      mustRun("ip", ["addr", "add", "10.231.40.2/24", "dev", uplink]);
      mustRun("ip", ["link", "set", uplink, "up"]);
      for (const subnet of ["10.231.40.0/24", "10.231.40.128/25", "10.231.0.0/16"]) {
        await assert.rejects(
          m.createNetwork({ name: testName("n"), subnet }),
          (err: Error) => {
            assert.ok(err instanceof ConflictError, String(err));
            assert.equal(
              err.message,
              `Cannot use subnet "${subnet}": it overlaps the host's route "10.231.40.0/24" on "${uplink}"`,
            );
            return true;
          },
        );
      }
      // Nothing was created: no record, no pool, no bridge.
      assert.deepEqual(m.store.networks(), []);
      assert.deepEqual(m.ipam.listNetworks(), {});
      using s = RouteSocket.open();
      const { stdout } = run("ip", ["-br", "link"]);
      assert.ok(!stdout.includes(prefix), stdout);
      assert.equal(getLink(s, uplink)?.name, uplink);
    } finally {
      run("ip", ["link", "del", uplink]); // its peer goes with it
      for (const n of m.store.networks()) run("ip", ["link", "del", n.bridge]);
      await Deno.remove(dir, { recursive: true });
    }
  },
});
