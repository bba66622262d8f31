/**
 * Proof tests of container networking through the Engine (root, busybox fixture): default
 * bridge, user networks with name resolution, published TCP/UDP ports reached from the host's
 * 127.0.0.1 and from a separate network namespace, `--network none`, 20 concurrent runs, and
 * nothing left on the host afterwards. Every device, table and namespace has a unique `dtst…`
 * name; ip_forward is restored to its previous value at the end.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { Engine } from "../../src/engine.ts";
import type { RunOptionsInput } from "../../src/engine_api.ts";
import { listAddresses } from "../../src/network/addresses.ts";
import { getLink, listLinks } from "../../src/network/links.ts";
import { Nat } from "../../src/network/nat.ts";
import { listRoutes } from "../../src/network/routes.ts";
import { RouteSocket } from "../../src/network/socket.ts";
import { readSysctl, writeSysctl } from "../../src/network/sysctl.ts";
import { ensureFixtures } from "../_helpers/fixtures.ts";
import { requires } from "../_helpers/requires.ts";
import { mustRun, run, testName, TestNetns } from "./_helpers.ts";

const needs = requires("root", "overlay", "nft", "busybox");

interface Setup {
  engine: Engine;
  dir: string;
  table: string;
  bridge: string;
  prefix: string;
  vethPrefix: string;
}

/** A fresh engine with unique device names and nft table; `done` removes everything. */
async function setup(): Promise<Setup & { done(): Promise<void> }> {
  const fx = await ensureFixtures();
  const dir = await Deno.makeTempDir({ prefix: "dts-net-e2e-" });
  const table = testName("t").replaceAll("-", "_");
  const bridge = testName("b");
  const prefix = testName("").slice(0, 8);
  const vethPrefix = `${prefix.slice(4, 8)}v`;
  const forwardBefore = readSysctl("net/ipv4/ip_forward");
  const engine = new Engine({
    root: path.join(dir, "root"),
    runroot: path.join(dir, "run"),
    network: { defaultBridge: bridge, bridgePrefix: prefix, vethPrefix, natTable: table },
  });
  await engine.load(fx.dockerArchive("busybox"));
  return {
    engine,
    dir,
    table,
    bridge,
    prefix,
    vethPrefix,
    async done() {
      const net = await engine.network();
      await net.close();
      for (const n of net.store.networks()) {
        using s = RouteSocket.open();
        const l = getLink(s, n.bridge);
        if (l) mustRun("ip", ["link", "del", n.bridge]);
      }
      await new Nat({ table, lockDir: path.join(dir, "run") }).deleteTable();
      writeSysctl("net/ipv4/ip_forward", forwardBefore);
      await Deno.remove(dir, { recursive: true });
    },
  };
}

function collector(): { stream: WritableStream<Uint8Array>; text(): string } {
  const chunks: Uint8Array[] = [];
  return {
    stream: new WritableStream({
      write(c) {
        chunks.push(c.slice());
      },
    }),
    text: () => chunks.map((c) => new TextDecoder().decode(c)).join(""),
  };
}

async function runIn(
  engine: Engine,
  opts: Omit<RunOptionsInput, "image">,
): Promise<{ code: number; out: string; err: string }> {
  const out = collector();
  const err = collector();
  const code = await engine.run({ image: "busybox", rm: true, ...opts }, {
    stdout: out.stream,
    stderr: err.stream,
  });
  return { code, out: out.text(), err: err.text() };
}

/** Starts a detached-style container (create + start) and returns its id. */
async function startBg(engine: Engine, opts: Omit<RunOptionsInput, "image">): Promise<string> {
  const { Id } = await engine.create({ image: "busybox", ...opts });
  await engine.start(Id);
  return Id;
}

/** Asserts the host holds no veth, address, route or nft rule of the test's devices. */
async function assertHostClean(s: Setup, containerIps: string[]): Promise<void> {
  using sock = RouteSocket.open();
  const veths = listLinks(sock).filter((l) => l.name.startsWith(s.vethPrefix));
  assert.deepEqual(veths.map((l) => l.name), [], "veth left on the host");
  const addrs = listAddresses(sock).map((a) => a.address);
  for (const ip of containerIps) assert.ok(!addrs.includes(ip), `address ${ip} left`);
  const routes = listRoutes(sock);
  for (const ip of containerIps) {
    assert.ok(!routes.some((r) => r.dst === `${ip}/32`), `route to ${ip} left`);
  }
  const rules = await new Nat({ table: s.table, lockDir: path.join(s.dir, "run") }).listRules();
  assert.deepEqual(rules.filter((r) => r.comment.startsWith("dts dnat")), [], "DNAT rule left");
}

async function waitFor(fn: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("timed out waiting");
}

Deno.test({
  name:
    "net e2e: default bridge gives eth0, a default route, hosts and resolv.conf; none has only lo",
  ...needs,
  async fn() {
    const s = await setup();
    try {
      const r = await runIn(s.engine, {
        cmd: [
          "sh",
          "-c",
          "ip -4 -o addr show eth0; ip route; cat /etc/hosts; cat /etc/resolv.conf; hostname",
        ],
      });
      assert.equal(r.code, 0, r.err);
      const net = await s.engine.inspectNetwork("bridge");
      const subnet = net.IPAM.Config[0].Subnet;
      const gw = net.IPAM.Config[0].Gateway;
      const m = /inet (\d+\.\d+\.\d+\.\d+)\/(\d+)/.exec(r.out);
      assert.ok(m, r.out);
      assert.equal(`/${m[2]}`, subnet.slice(subnet.indexOf("/")));
      assert.match(r.out, new RegExp(`default via ${gw.replaceAll(".", "\\.")} dev eth0`));
      const host = r.out.trim().split("\n").at(-1)!;
      assert.match(r.out, new RegExp(`${m[1].replaceAll(".", "\\.")}\\t${host}`));
      assert.doesNotMatch(r.out, /nameserver 127\./);
      assert.equal(net.Options["com.docker.network.bridge.name"], s.bridge);
      assert.equal(readSysctl("net/ipv4/ip_forward"), "1");

      const none = await runIn(s.engine, {
        network: "none",
        cmd: ["sh", "-c", "ls /sys/class/net"],
      });
      assert.equal(none.code, 0, none.err);
      assert.equal(none.out.trim(), "lo");
      await assertHostClean(s, [m[1]]);
    } finally {
      await s.done();
    }
  },
});

Deno.test({
  name: "net e2e: two containers on a user network reach each other by name and alias",
  ...needs,
  async fn() {
    const s = await setup();
    const ids: string[] = [];
    try {
      const n = await s.engine.createNetwork({ name: "dtstnet", subnet: "10.231.7.0/24" });
      assert.equal(n.IPAM.Config[0].Gateway, "10.231.7.1");
      const server = await startBg(s.engine, {
        name: "web",
        network: "dtstnet",
        networkAliases: ["www"],
        ip: "10.231.7.50",
        cmd: ["sh", "-c", "echo hello-by-name > /tmp/index.html; httpd -f -p 80 -h /tmp"],
      });
      ids.push(server);
      const ins = await s.engine.inspect(server);
      const nets = ins.NetworkSettings.Networks as Record<string, { IPAddress: string }>;
      assert.equal(nets.dtstnet.IPAddress, "10.231.7.50");
      const r = await runIn(s.engine, {
        network: "dtstnet",
        cmd: [
          "sh",
          "-c",
          "ping -c1 -W2 web && timeout 5 wget -q -O- http://web/index.html && " +
          "timeout 5 wget -q -O- http://www/index.html && cat /etc/resolv.conf",
        ],
      });
      assert.equal(r.code, 0, r.out + r.err);
      assert.match(r.out, /1 packets received/);
      assert.equal(r.out.match(/hello-by-name/g)?.length, 2);
      assert.match(r.out, /nameserver 10\.231\.7\.1/);
      const inspected = await s.engine.inspectNetwork("dtstnet");
      assert.equal(Object.keys(inspected.Containers).length, 1);
      // In use: cannot be removed.
      await assert.rejects(() => s.engine.removeNetwork("dtstnet"), { kind: "Conflict" });
      await s.engine.remove(server, { force: true });
      ids.length = 0;
      await s.engine.removeNetwork("dtstnet");
      using sock = RouteSocket.open();
      assert.equal(listLinks(sock).filter((l) => l.name.startsWith(s.prefix)).length, 0);
      await assertHostClean(s, ["10.231.7.50"]);
    } finally {
      for (const id of ids) await s.engine.remove(id, { force: true }).catch(() => {});
      await s.done();
    }
  },
});

Deno.test({
  name: "net e2e: published TCP and UDP ports answer on 127.0.0.1 and from another netns",
  ...needs,
  async fn() {
    const s = await setup();
    const ns = new TestNetns();
    const hv = testName("h");
    const ids: string[] = [];
    try {
      // A "remote host": a namespace linked to the host by a veth pair, 10.232.9.0/30.
      mustRun("ip", ["link", "add", hv, "type", "veth", "peer", "name", "eth0", "netns", ns.name]);
      mustRun("ip", ["addr", "add", "10.232.9.1/30", "dev", hv]);
      mustRun("ip", ["link", "set", hv, "up"]);
      ns.exec(["ip", "addr", "add", "10.232.9.2/30", "dev", "eth0"]);
      ns.exec(["ip", "link", "set", "eth0", "up"]);
      ns.exec(["ip", "link", "set", "lo", "up"]);

      const web = await startBg(s.engine, {
        publish: ["127.0.0.1::80", "18480:80"],
        cmd: ["sh", "-c", "echo published > /tmp/index.html; httpd -f -p 80 -h /tmp"],
      });
      ids.push(web);
      // busybox's nc has no UDP mode: the UDP server is _udp_echo.ts on the host's deno,
      // bind-mounted with the host's libraries.
      const udp = await startBg(s.engine, {
        publish: ["18481:9999/udp"],
        volumes: [
          `${Deno.execPath()}:/deno:ro`,
          "/lib:/lib:ro",
          "/lib64:/lib64:ro",
          `${import.meta.dirname}:/t:ro`,
        ],
        env: ["DENO_DIR=/tmp/deno", "NO_COLOR=1"],
        cmd: ["/deno", "run", "-A", "/t/_udp_echo.ts", "9999"],
      });
      ids.push(udp);
      const ports = await s.engine.port(web);
      const random = ports.find((p) => p.hostIp === "127.0.0.1")!;
      assert.ok(random.hostPort > 0);
      const ins = await s.engine.inspect(web);
      assert.deepEqual(ins.NetworkSettings.Ports["80/tcp"], [
        { HostIp: "127.0.0.1", HostPort: String(random.hostPort) },
        { HostIp: "0.0.0.0", HostPort: "18480" },
      ]);
      assert.deepEqual(ins.HostConfig.PortBindings["80/tcp"], [
        { HostIp: "127.0.0.1", HostPort: "" },
        { HostIp: "", HostPort: "18480" },
      ]);
      const get = async (url: string): Promise<string> => {
        let last = "";
        for (let i = 0; i < 50; i++) {
          try {
            const res = await fetch(url);
            return await res.text();
          } catch (err) {
            last = String(err);
            await new Promise((r) => setTimeout(r, 100));
          }
        }
        throw new Error(last);
      };
      assert.equal(await get(`http://127.0.0.1:${random.hostPort}/index.html`), "published\n");
      assert.equal(await get("http://127.0.0.1:18480/index.html"), "published\n");
      // From the other namespace, to the host's address on the link.
      const remote = ns.exec([
        "timeout",
        "5",
        "/bin/busybox",
        "wget",
        "-q",
        "-O-",
        "http://10.232.9.1:18480/index.html",
      ]);
      assert.equal(remote.stdout, "published\n", remote.stderr);
      // UDP from the host and from the namespace.
      const udpAsk = (prefix: string[], host: string): string => {
        const code = `import dgram from "node:dgram";
          const s = dgram.createSocket("udp4");
          const t = setInterval(() => s.send("ping", 18481, "${host}"), 200);
          const end = setTimeout(() => { clearInterval(t); s.close(); }, 8000);
          s.on("message", (m) => {
            console.log(String(m)); clearInterval(t); clearTimeout(end); s.close();
          });`;
        return run(prefix[0] ?? Deno.execPath(), [
          ...prefix.slice(1),
          ...(prefix.length ? [Deno.execPath()] : []),
          "eval",
          code,
        ]).stdout;
      };
      assert.match(udpAsk([], "127.0.0.1"), /echo:ping/);
      assert.match(udpAsk(["ip", "netns", "exec", ns.name], "10.232.9.1"), /echo:ping/);
      // A host port in use: exit code 125 material (Conflict), nothing half-configured.
      const before = (await s.engine.list({ all: true })).length;
      await assert.rejects(
        () => startBg(s.engine, { publish: ["18480:80"], cmd: ["true"] }),
        /already allocated/,
      );
      const failed = (await s.engine.list({ all: true })).find((c) => !ids.includes(c.Id));
      assert.ok(failed);
      assert.equal((await s.engine.list({ all: true })).length, before + 1);
      assert.equal((await s.engine.network()).endpoint(failed.Id), undefined);
      await s.engine.remove(failed.Id, { force: true });
      const ips = [web, udp].map((id) =>
        (s.engine as Engine).network().then((n) => n.endpoint(id)!.networks[0].ip)
      );
      const containerIps = await Promise.all(ips);
      for (const id of ids.splice(0)) await s.engine.remove(id, { force: true });
      await waitFor(async () => (await s.engine.list()).length === 0);
      await assertHostClean(s, containerIps);
    } finally {
      for (const id of ids) await s.engine.remove(id, { force: true }).catch(() => {});
      run("ip", ["link", "del", hv]);
      ns.remove();
      await s.done();
    }
  },
});

Deno.test({
  name: "net e2e: 20 concurrent runs get 20 distinct addresses, then nothing is left",
  ...needs,
  async fn() {
    const s = await setup();
    try {
      const results = await Promise.all(
        Array.from(
          { length: 20 },
          () => runIn(s.engine, { cmd: ["sh", "-c", "ip -4 -o addr show eth0"] }),
        ),
      );
      const ips = results.map((r) => {
        assert.equal(r.code, 0, r.err);
        return /inet (\S+)\//.exec(r.out)![1];
      });
      assert.equal(new Set(ips).size, 20, ips.join(" "));
      await assertHostClean(s, ips);
      const pools = (await s.engine.network()).ipam.listNetworks();
      for (const p of Object.values(pools)) assert.deepEqual(p.allocated, {});
    } finally {
      await s.done();
    }
  },
});
