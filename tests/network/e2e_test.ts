import assert from "node:assert/strict";
import * as fs from "node:fs";
import { requires } from "../_helpers/requires.ts";
import { testName, TestNetns } from "./_helpers.ts";
import { openRouteSocketIn } from "../../src/network/netns.ts";
import { RouteSocket } from "../../src/network/socket.ts";
import { createBridge, createVeth, deleteLink, getLink, setLink } from "../../src/network/links.ts";
import { addAddress, listAddresses } from "../../src/network/addresses.ts";
import { addRoute, hostSubnets, listRoutes } from "../../src/network/routes.ts";
import { Ipam } from "../../src/network/ipam.ts";
import { overlaps, parseCidr } from "../../src/network/ipv4.ts";

Deno.test({
  name: "bridge + veth + netns: the namespace pings its gateway, and removal leaves nothing",
  ...requires("root", "busybox"),
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "dts-net-e2e-" });
    using host = RouteSocket.open();
    const bridge = testName("b");
    const hostVeth = testName("h");
    const tmpPeer = testName("p");
    const ns = new TestNetns();
    const nsFd = fs.openSync(ns.path, "r");
    let subnet = "";
    let gateway = "";
    try {
      const ipam = new Ipam({ root });
      const routesBefore = hostSubnets(host);
      const pool = ipam.addNetwork("bridge", { hostRoutes: routesBefore });
      subnet = pool.subnet;
      gateway = pool.gateway;
      const net = parseCidr(subnet);
      // The chosen subnet collides with nothing the host routes.
      for (const r of routesBefore) {
        assert.ok(r === subnet || !overlapsCidr(r, subnet), `${r} vs ${subnet}`);
      }

      createBridge(host, bridge);
      addAddress(host, bridge, { address: gateway, prefixLen: net.prefixLen });
      setLink(host, bridge, { up: true });

      createVeth(host, { name: hostVeth, peer: tmpPeer });
      setLink(host, hostVeth, { master: bridge, up: true });
      setLink(host, tmpPeer, { netnsFd: nsFd }); // moved by fd

      const address = ipam.allocate("bridge", { owner: "c1" });
      {
        using inside = await openRouteSocketIn(ns.path);
        setLink(inside, "lo", { up: true });
        setLink(inside, tmpPeer, { name: "eth0", up: true });
        addAddress(inside, "eth0", { address, prefixLen: net.prefixLen });
        addRoute(inside, { gateway, link: "eth0" });
      }
      const ping = ns.exec(["/bin/busybox", "ping", "-c", "1", "-W", "2", gateway]);
      assert.equal(ping.code, 0, ping.stdout + ping.stderr);
      assert.match(ping.stdout, /1 packets received/);

      assert.equal(ipam.release("bridge", address), true);
    } finally {
      deleteLink(host, hostVeth);
      deleteLink(host, bridge);
      fs.closeSync(nsFd);
      ns.remove();
      await Deno.remove(root, { recursive: true });
    }
    // Nothing remains on the host: no link, no address, no route.
    assert.equal(getLink(host, bridge), undefined);
    assert.equal(getLink(host, hostVeth), undefined);
    assert.ok(!listAddresses(host).some((a) => a.address === gateway));
    assert.ok(!listRoutes(host).some((r) => r.dst === subnet));
  },
});

function overlapsCidr(a: string, b: string): boolean {
  return overlaps(parseCidr(a, false), parseCidr(b, false));
}
