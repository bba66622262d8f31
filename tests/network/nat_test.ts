import assert from "node:assert/strict";
import * as fs from "node:fs";
import dgram from "node:dgram";
import { requires } from "../_helpers/requires.ts";
import { mustRun, run, testName, TestNetns } from "./_helpers.ts";
import { dnatKey, dnatRules, masqRules, Nat, type PortMapping } from "../../src/network/nat.ts";
import { InvalidArgumentError } from "../../src/errors.ts";
import { RouteSocket } from "../../src/network/socket.ts";
import { openRouteSocketIn } from "../../src/network/netns.ts";
import { createBridge, createVeth, deleteLink, setLink } from "../../src/network/links.ts";
import { addAddress } from "../../src/network/addresses.ts";
import { addRoute, hostSubnets } from "../../src/network/routes.ts";
import { chooseSubnet, Ipam } from "../../src/network/ipam.ts";
import { intToIp, parseCidr } from "../../src/network/ipv4.ts";
import {
  enableIpForward,
  readSysctl,
  setRouteLocalnet,
  writeSysctl,
} from "../../src/network/sysctl.ts";

Deno.test("nft statements for DNAT and masquerade, and bad input", () => {
  const m: PortMapping = {
    proto: "tcp",
    hostPort: 8080,
    containerIp: "172.17.0.2",
    containerPort: 80,
  };
  assert.deepEqual(dnatRules(m), [{
    chain: "publish",
    rule: "tcp dport 8080 dnat to 172.17.0.2:80",
  }]);
  assert.deepEqual(dnatRules({ ...m, proto: "udp", hostIp: "127.0.0.1" }), [
    { chain: "publish", rule: "ip daddr 127.0.0.1 udp dport 8080 dnat to 172.17.0.2:80" },
  ]);
  assert.deepEqual(
    masqRules({ subnet: "172.17.0.0/16", bridge: "docker-ts0" }).map((r) => r.chain),
    [
      "masq",
      "masq",
      "masq",
      "guard",
    ],
  );
  assert.equal(dnatKey(m), "dts dnat tcp 0.0.0.0:8080 172.17.0.2:80");
  assert.throws(() => dnatRules({ ...m, hostPort: 0 }), InvalidArgumentError);
  assert.throws(() => dnatRules({ ...m, containerIp: "1.2.3" }), InvalidArgumentError);
  assert.throws(() => dnatRules({ ...m, proto: "sctp" as "tcp" }), /Invalid protocol "sctp"/);
  assert.throws(() => masqRules({ subnet: "172.17.0.1/16", bridge: "x" }), /host bits/);
  assert.throws(
    () => masqRules({ subnet: "172.17.0.0/16", bridge: 'x" accept' }),
    /Invalid interface name/,
  );
  assert.throws(() => new Nat({ table: "bad table" }), /Invalid nftables table name/);
});

Deno.test({
  name: "NAT rules appear idempotently in docker-ts's own table and vanish exactly",
  ...requires("root"),
  async fn() {
    const lockDir = await Deno.makeTempDir({ prefix: "dts-nat-" });
    const nat = new Nat({ table: testName("t"), lockDir });
    const tablesBefore = mustRun("nft", ["list", "tables"]);
    const m: PortMapping = {
      proto: "tcp",
      hostPort: 18080,
      containerIp: "172.30.0.2",
      containerPort: 80,
    };
    const u: PortMapping = {
      proto: "udp",
      hostIp: "127.0.0.1",
      hostPort: 15353,
      containerIp: "172.30.0.2",
      containerPort: 53,
    };
    try {
      assert.equal(await nat.addMasquerade({ subnet: "172.30.0.0/16", bridge: "dtstbr" }), true);
      assert.equal(await nat.addMasquerade({ subnet: "172.30.0.0/16", bridge: "dtstbr" }), false);
      assert.equal(await nat.addPortMapping(m), true);
      assert.equal(await nat.addPortMapping(m), false);
      assert.equal(await nat.addPortMapping(u), true);
      const listed = mustRun("nft", ["list", "table", "ip", nat.table]);
      assert.match(listed, /tcp dport 18080 dnat to 172\.30\.0\.2:80/);
      assert.match(listed, /ip daddr 127\.0\.0\.1 udp dport 15353 dnat to 172\.30\.0\.2:53/);
      assert.match(listed, /ip saddr 172\.30\.0\.0\/16 oifname != "dtstbr" masquerade/);
      assert.equal((listed.match(/dnat to/g) ?? []).length, 2);
      assert.match(listed, /iifname "dtstbr" ip daddr 127\.0\.0\.0\/8 drop/);
      assert.equal((await nat.listRules()).length, 6);

      assert.equal(await nat.removePortMapping(m), true);
      assert.equal(await nat.removePortMapping(m), false);
      const after = mustRun("nft", ["list", "table", "ip", nat.table]);
      assert.doesNotMatch(after, /18080/);
      assert.match(after, /15353/);
      assert.equal(await nat.removeMasquerade({ subnet: "172.30.0.0/16", bridge: "dtstbr" }), true);
      assert.equal(await nat.removePortMapping(u), true);
      assert.deepEqual(await nat.listRules(), []);
    } finally {
      await nat.deleteTable();
    }
    try {
      assert.equal(await nat.deleteTable(), false);
      assert.equal(mustRun("nft", ["list", "tables"]), tablesBefore);
    } finally {
      // Last: every Nat call takes its lock file in this directory.
      await Deno.remove(lockDir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "published TCP and UDP ports answer on 127.0.0.1 and from another namespace; masquerade works",
  ...requires("root", "busybox"),
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "dts-nat-e2e-" });
    const nat = new Nat({ table: testName("t"), lockDir: root });
    using host = RouteSocket.open();
    const bridge = testName("b");
    const ctrVeth = testName("c");
    const cliVeth = testName("l");
    const ctr = new TestNetns();
    const cli = new TestNetns();
    const ctrFd = fs.openSync(ctr.path, "r");
    const cliFd = fs.openSync(cli.path, "r");
    const forwardBefore = readSysctl("net/ipv4/ip_forward");
    let server: Deno.ChildProcess | undefined;
    let udpServer: Deno.ChildProcess | undefined;
    try {
      const ipam = new Ipam({ root });
      const routes = hostSubnets(host);
      const pool = ipam.addNetwork("bridge", { hostRoutes: routes });
      const prefixLen = parseCidr(pool.subnet).prefixLen;
      // The stand-in for another host: a /30 link to the host, clear of every route and the bridge.
      const link = chooseSubnet([{ base: "10.0.0.0/8", size: 30 }], [
        ...routes.map((r) => parseCidr(r, false)),
        parseCidr(pool.subnet),
      ])!;
      const hostSide = intToIp(link.network + 1);
      const cliSide = intToIp(link.network + 2);

      createBridge(host, bridge);
      addAddress(host, bridge, { address: pool.gateway, prefixLen });
      setLink(host, bridge, { up: true });
      createVeth(host, { name: ctrVeth, peer: "eth0", peerNetnsFd: ctrFd });
      setLink(host, ctrVeth, { master: bridge, up: true });
      createVeth(host, { name: cliVeth, peer: "eth0", peerNetnsFd: cliFd });
      addAddress(host, cliVeth, { address: hostSide, prefixLen: 30 });
      setLink(host, cliVeth, { up: true });

      const ctrIp = ipam.allocate("bridge", { owner: "ctr" });
      {
        using s = await openRouteSocketIn(ctr.path);
        setLink(s, "lo", { up: true });
        setLink(s, "eth0", { up: true });
        addAddress(s, "eth0", { address: ctrIp, prefixLen });
        addRoute(s, { gateway: pool.gateway });
      }
      {
        using s = await openRouteSocketIn(cli.path);
        setLink(s, "lo", { up: true });
        setLink(s, "eth0", { up: true });
        // No default route: the client knows only its /30, so a container can reach it only
        // through the masquerade (as with a real remote host that has no route to the bridge).
        addAddress(s, "eth0", { address: cliSide, prefixLen: 30 });
      }

      // Host changes, as Docker makes them: forwarding on; route_localnet on our bridge only.
      enableIpForward();
      setRouteLocalnet(bridge, true);
      await nat.addMasquerade({ subnet: pool.subnet, bridge });
      const hostPort = 20000 + Math.floor(Math.random() * 20000);
      await nat.addPortMapping({ proto: "tcp", hostPort, containerIp: ctrIp, containerPort: 80 });

      const www = `${root}/www`;
      fs.mkdirSync(www);
      fs.writeFileSync(`${www}/index.html`, "hello from the container\n");
      server = new Deno.Command("ip", {
        args: ["netns", "exec", ctr.name, "/bin/busybox", "httpd", "-f", "-p", "80", "-h", www],
        stdout: "null",
        stderr: "null",
      }).spawn();
      await waitFor(() =>
        ctr.exec(["/bin/busybox", "wget", "-qO-", "http://127.0.0.1/"]).code === 0
      );

      // From the host's loopback (DNAT in the output hook + route_localnet + masquerade).
      const res = await fetch(`http://127.0.0.1:${hostPort}/`);
      assert.equal(await res.text(), "hello from the container\n");

      // From "another host": DNAT in prerouting, forwarded into the bridge.
      // (busybox 1.35's static wget crashes with -T; coreutils timeout bounds it instead.)
      const remote = cli.exec([
        "timeout",
        "5",
        "/bin/busybox",
        "wget",
        "-qO-",
        `http://${hostSide}:${hostPort}/`,
      ]);
      assert.equal(remote.code, 0, remote.stderr);
      assert.equal(remote.stdout, "hello from the container\n");

      // Outbound masquerade: the container reaches the "other host" with the host's address.
      const out = ctr.exec(["/bin/busybox", "ping", "-c", "1", "-W", "2", cliSide]);
      assert.equal(out.code, 0, out.stdout + out.stderr);

      // UDP: an echo server in the container, published on the same host port number.
      await nat.addPortMapping({ proto: "udp", hostPort, containerIp: ctrIp, containerPort: 5353 });
      udpServer = new Deno.Command("ip", {
        args: [
          "netns",
          "exec",
          ctr.name,
          Deno.execPath(),
          "run",
          "-A",
          new URL("./_udp_echo.ts", import.meta.url).pathname,
          "5353",
        ],
        stdout: "piped",
        stderr: "null",
      }).spawn();
      const reader = udpServer.stdout.getReader();
      assert.match(new TextDecoder().decode((await reader.read()).value), /ready/);
      reader.releaseLock();
      assert.equal(await udpRoundTrip("127.0.0.1", hostPort, "ping"), "echo:ping");

      // Unpublished: the port no longer answers.
      await nat.removePortMapping({
        proto: "tcp",
        hostPort,
        containerIp: ctrIp,
        containerPort: 80,
      });
      const gone = cli.exec([
        "timeout",
        "2",
        "/bin/busybox",
        "wget",
        "-qO-",
        `http://${hostSide}:${hostPort}/`,
      ]);
      assert.notEqual(gone.code, 0);
    } finally {
      if (server) {
        try {
          server.kill("SIGTERM");
        } catch { /* already gone */ }
        await server.status;
      }
      if (udpServer) {
        try {
          udpServer.kill("SIGTERM");
        } catch { /* already gone */ }
        await udpServer.stdout.cancel().catch(() => {});
        await udpServer.status;
      }
      await nat.deleteTable();
      writeSysctl("net/ipv4/ip_forward", forwardBefore);
      deleteLink(host, ctrVeth);
      deleteLink(host, cliVeth);
      deleteLink(host, bridge);
      fs.closeSync(ctrFd);
      fs.closeSync(cliFd);
      ctr.remove();
      cli.remove();
      await Deno.remove(root, { recursive: true });
    }
    assert.equal(run("nft", ["list", "table", "ip", nat.table]).code, 1);
  },
});

async function udpRoundTrip(host: string, port: number, text: string): Promise<string> {
  const sock = dgram.createSocket("udp4");
  try {
    return await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("No UDP answer within 3 s")), 3000);
      sock.on("message", (msg) => {
        clearTimeout(timer);
        resolve(String(msg));
      });
      sock.send(text, port, host);
    });
  } finally {
    sock.close();
  }
}

async function waitFor(check: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error("Timed out waiting for the server");
    await new Promise((r) => setTimeout(r, 50));
  }
}
