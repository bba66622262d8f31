import assert from "node:assert/strict";
import * as fs from "node:fs";
import { requires } from "../_helpers/requires.ts";
import { TestNetns } from "./_helpers.ts";
import { openRouteSocketIn } from "../../src/network/netns.ts";
import { NetlinkError, RouteSocket } from "../../src/network/socket.ts";
import {
  createBridge,
  createVeth,
  deleteLink,
  getLink,
  listLinks,
  requireLink,
  setLink,
  setLinkUp,
} from "../../src/network/links.ts";
import { addAddress, deleteAddress, listAddresses } from "../../src/network/addresses.ts";
import { addRoute, deleteRoute, hostSubnets, listRoutes } from "../../src/network/routes.ts";
import { NotFoundError } from "../../src/errors.ts";

Deno.test({
  name: "links, addresses and routes inside a test netns; the socket stays bound to it",
  ...requires("root"),
  async fn() {
    const ns = new TestNetns();
    const other = new TestNetns();
    let sock: RouteSocket | undefined;
    const otherFd = fs.openSync(other.path, "r");
    try {
      sock = await openRouteSocketIn(ns.path);
      // The Worker is gone; the socket still acts in `ns`, not on the host.
      assert.deepEqual(listLinks(sock).map((l) => l.name), ["lo"]);
      using host = RouteSocket.open();
      assert.ok(listLinks(host).some((l) => l.name !== "lo"));

      setLinkUp(sock, "lo");
      assert.equal(requireLink(sock, "lo").up, true);

      createBridge(sock, "br0", { up: true, mtu: 1400 });
      const br = requireLink(sock, "br0");
      assert.equal(br.kind, "bridge");
      assert.equal(br.mtu, 1400);
      assert.throws(
        () => createBridge(sock!, "br0"),
        (e: Error) =>
          e instanceof NetlinkError && e.code === "EEXIST" &&
          e.message.startsWith('Cannot create bridge "br0": EEXIST (File exists)'),
      );

      createVeth(sock, { name: "v0", peer: "v1" });
      const v0 = requireLink(sock, "v0");
      const v1 = requireLink(sock, "v1");
      assert.equal(v0.kind, "veth");
      assert.equal(v0.link, v1.index);
      setLink(sock, "v0", { master: "br0", up: true });
      assert.equal(requireLink(sock, "v0").master, br.index);
      setLink(sock, v0.index, { master: null });
      assert.equal(requireLink(sock, "v0").master, undefined);

      setLink(sock, "v1", { name: "eth0", up: true });
      assert.equal(getLink(sock, "v1"), undefined);
      assert.equal(requireLink(sock, v1.index).name, "eth0");
      setLinkUp(sock, "eth0", false);
      assert.equal(requireLink(sock, "eth0").up, false);
      assert.throws(() => requireLink(sock!, "nope0"), NotFoundError);
      assert.throws(
        () => setLink(sock!, "nope0", { up: true }),
        /Cannot bring up link "nope0": ENODEV/,
      );
      assert.throws(() => createBridge(sock!, "a-very-long-name0"), /Invalid interface name/);

      addAddress(sock, "br0", { address: "10.123.0.1", prefixLen: 24 });
      assert.throws(
        () => addAddress(sock!, "br0", { address: "10.123.0.1", prefixLen: 24 }),
        /EEXIST/,
      );
      const addrs = listAddresses(sock, "br0");
      assert.deepEqual(addrs.map((a) => [a.address, a.prefixLen, a.broadcast]), [[
        "10.123.0.1",
        24,
        "10.123.0.255",
      ]]);
      assert.ok(hostSubnets(sock).includes("10.123.0.0/24"));

      addRoute(sock, { dst: "10.124.0.0/16", gateway: "10.123.0.9" });
      addRoute(sock, { gateway: "10.123.0.1" });
      const main = listRoutes(sock, { table: 254 });
      assert.ok(
        main.some((r) => r.dst === "0.0.0.0/0" && r.gateway === "10.123.0.1" && r.oif === br.index),
      );
      assert.ok(main.some((r) => r.dst === "10.124.0.0/16" && r.gateway === "10.123.0.9"));
      assert.equal(deleteRoute(sock, { dst: "10.124.0.0/16", gateway: "10.123.0.9" }), true);
      assert.equal(deleteRoute(sock, { dst: "10.124.0.0/16", gateway: "10.123.0.9" }), false);
      assert.equal(deleteAddress(sock, "br0", { address: "10.123.0.1", prefixLen: 24 }), true);
      assert.equal(deleteAddress(sock, "br0", { address: "10.123.0.1", prefixLen: 24 }), false);
      assert.equal(listRoutes(sock, { table: 254 }).length, 0);

      // Move a link to another namespace by fd, and create a peer directly in it.
      setLink(sock, "eth0", { netnsFd: otherFd });
      assert.equal(getLink(sock, "eth0"), undefined);
      createVeth(sock, { name: "w0", peer: "w1", peerNetnsFd: otherFd });
      using o = await openRouteSocketIn(other.path);
      assert.deepEqual(listLinks(o).map((l) => l.name).sort(), ["eth0", "lo", "w1"]);

      assert.equal(deleteLink(sock, "v0"), true); // takes eth0 in `other` with it
      assert.equal(deleteLink(sock, "v0"), false);
      assert.deepEqual(listLinks(o).map((l) => l.name).sort(), ["lo", "w1"]);
    } finally {
      sock?.close();
      fs.closeSync(otherFd);
      ns.remove();
      other.remove();
    }
  },
});

Deno.test({
  name: "opening a socket in a missing namespace is a clear error",
  ...requires("root"),
  async fn() {
    await assert.rejects(
      () => openRouteSocketIn("/run/netns/dtst-missing"),
      /Cannot open netlink socket in network namespace "\/run\/netns\/dtst-missing": Cannot open "\/run\/netns\/dtst-missing": ENOENT/,
    );
  },
});
