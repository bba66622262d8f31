/**
 * Network verbs and bad input through the CLI commands and the Engine (root): overlapping
 * subnets, unknown networks, removing a network in use, invalid `-p`, a host port in use
 * (nothing half-configured), `network ls|inspect|rm|prune`, `port`, and `reconcile` of leftovers.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { Engine } from "../../src/engine.ts";
import { runCommand } from "../../src/cli/command.ts";
import type { CliContext } from "../../src/cli/context.ts";
import { command as network } from "../../src/cli/verbs/network.ts";
import { command as port } from "../../src/cli/verbs/port.ts";
import { command as runVerb } from "../../src/cli/verbs/run.ts";
import { createVeth, getLink } from "../../src/network/links.ts";
import { Nat } from "../../src/network/nat.ts";
import { RouteSocket } from "../../src/network/socket.ts";
import { readSysctl, writeSysctl } from "../../src/network/sysctl.ts";
import { ensureFixtures } from "../_helpers/fixtures.ts";
import { requires } from "../_helpers/requires.ts";
import { fakeIo } from "../cli/_fake.ts";
import { mustRun, testName } from "./_helpers.ts";

const needs = requires("root", "overlay", "nft", "busybox");

async function setup() {
  const fx = await ensureFixtures();
  const dir = await Deno.makeTempDir({ prefix: "dts-net-cli-" });
  const table = testName("t");
  const prefix = testName("").slice(0, 8);
  const forwardBefore = readSysctl("net/ipv4/ip_forward");
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
  await engine.load(fx.dockerArchive("busybox"));
  const cli = async (cmd: typeof network, args: string[]) => {
    const io = fakeIo();
    const ctx: CliContext = {
      root: dir,
      runroot: dir,
      debug: false,
      io,
      env: () => undefined,
      engine: () => Promise.resolve(engine),
    };
    const code = await runCommand(cmd, ctx, args);
    return { code, out: io.out, err: io.err };
  };
  return {
    engine,
    dir,
    prefix,
    cli,
    async done() {
      const net = await engine.network();
      await net.close();
      for (const n of net.store.networks()) {
        using s = RouteSocket.open();
        if (getLink(s, n.bridge)) mustRun("ip", ["link", "del", n.bridge]);
      }
      await new Nat({ table, lockDir: path.join(dir, "run") }).deleteTable();
      writeSysctl("net/ipv4/ip_forward", forwardBefore);
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test({
  name: "net cli: create, ls, inspect, overlap, in-use, rm, prune",
  ...needs,
  async fn() {
    const s = await setup();
    try {
      const c = await s.cli(network, ["create", "--subnet", "10.233.0.0/24", "dtsta"]);
      assert.equal(c.code, 0, c.err);
      assert.match(c.out, /^[0-9a-f]{64}\n$/);
      using sock = RouteSocket.open();
      const bridge = `${s.prefix}${c.out.slice(0, 15 - s.prefix.length)}`;
      assert.ok(getLink(sock, bridge)?.up, "bridge up");

      const overlap = await s.cli(network, ["create", "--subnet", "10.233.0.128/25", "dtstb"]);
      assert.equal(overlap.code, 1);
      assert.match(overlap.err, /overlaps "10\.233\.0\.0\/24" of network/);
      assert.equal((await s.cli(network, ["create", "dtsta"])).code, 1);
      const badGw = await s.cli(network, [
        "create",
        "--subnet",
        "10.233.1.0/24",
        "--gateway",
        "10.9.9.9",
        "dtstc",
      ]);
      assert.equal(badGw.code, 1);
      assert.match(badGw.err, /Invalid gateway/);

      const ls = await s.cli(network, ["ls", "--format", "{{.Name}} {{.Driver}}"]);
      assert.equal(ls.out, "bridge bridge\ndtsta bridge\nhost host\nnone null\n");
      const ins = await s.cli(network, ["inspect", "-f", "{{.Name}} {{.Internal}}", "dtsta"]);
      assert.equal(ins.out, "dtsta false\n");
      const missing = await s.cli(network, ["inspect", "nope"]);
      assert.equal(missing.code, 1);
      assert.match(missing.err, /Network "nope" not found/);

      // An existing container configured on it keeps the network.
      const { Id } = await s.engine.create({ image: "busybox", network: "dtsta", cmd: ["true"] });
      const inUse = await s.cli(network, ["rm", "dtsta"]);
      assert.equal(inUse.code, 1);
      assert.match(inUse.err, /container ".*" is connected to it/);
      assert.equal((await s.cli(network, ["rm", "bridge"])).code, 1);
      await s.engine.remove(Id);
      assert.deepEqual(await s.cli(network, ["rm", "dtsta"]), {
        code: 0,
        out: "dtsta\n",
        err: "",
      });
      assert.equal(getLink(sock, bridge), undefined);

      await s.cli(network, ["create", "dtstp"]);
      const pr = await s.cli(network, ["prune", "-f"]);
      assert.equal(pr.out, "Deleted Networks:\ndtstp\n");
    } finally {
      await s.done();
    }
  },
});

Deno.test({
  name: "net cli: unknown network and invalid -p exit 125; a port in use leaves nothing behind",
  ...needs,
  async fn() {
    const s = await setup();
    try {
      const r = await s.cli(runVerb, ["--rm", "--network", "nope", "busybox", "true"]);
      assert.equal(r.code, 125);
      assert.match(r.err, /Network "nope" not found/);
      assert.deepEqual(await s.engine.list({ all: true }), []);
      await assert.rejects(
        () => s.engine.create({ image: "busybox", publish: ["80:abc"] }),
        { kind: "InvalidArgument", message: /Invalid port publish spec "80:abc"/ },
      );
      await assert.rejects(
        () => s.engine.create({ image: "busybox", ip: "10.0.0.5" }),
        /user defined networks only/,
      );

      const held = Deno.listen({ hostname: "0.0.0.0", port: 0 });
      const busy = (held.addr as Deno.NetAddr).port;
      try {
        const { Id } = await s.engine.create({
          image: "busybox",
          publish: [`${busy}:80`],
          cmd: ["true"],
        });
        await assert.rejects(() => s.engine.start(Id), /already allocated/);
        const net = await s.engine.network();
        assert.equal(net.endpoint(Id), undefined);
        for (const p of Object.values(net.ipam.listNetworks())) assert.deepEqual(p.allocated, {});
        assert.deepEqual((await net.nat.listRules()).filter((x) => x.comment.includes("dnat")), []);
        using sock = RouteSocket.open();
        assert.equal(getLink(sock, `${s.prefix.slice(4)}v${Id.slice(0, 9)}0`), undefined);
        await s.engine.remove(Id);
      } finally {
        held.close();
      }

      // docker port on a running container.
      const { Id } = await s.engine.create({
        image: "busybox",
        publish: ["127.0.0.1::80"],
        cmd: ["sleep", "30"],
      });
      await s.engine.start(Id);
      const p = await s.cli(port, [Id]);
      assert.match(p.out, /^80\/tcp -> 127\.0\.0\.1:\d+\n$/);
      const one = await s.cli(port, [Id, "80/tcp"]);
      assert.match(one.out, /^127\.0\.0\.1:\d+\n$/);
      assert.equal((await s.cli(port, [Id, "81"])).code, 1);
      await s.engine.remove(Id, { force: true });
    } finally {
      await s.done();
    }
  },
});

Deno.test({
  name: "net: reconcile removes what a dead container left (veth, address, record)",
  ...needs,
  async fn() {
    const s = await setup();
    try {
      const net = await s.engine.network();
      const bridge = await net.ensureDefault();
      const dead = "d".repeat(64);
      const ip = net.ipam.allocate(bridge.id, { owner: dead });
      const veth = `${s.prefix.slice(4)}vzz0`;
      using sock = RouteSocket.open();
      createVeth(sock, { name: veth, peer: `${veth.slice(0, 12)}p` });
      net.store.putEndpoint({
        containerId: dead,
        name: "ghost",
        pid: 999999,
        networks: [{
          networkId: bridge.id,
          networkName: "bridge",
          ip,
          prefixLen: 16,
          gateway: bridge.gateway,
          ifname: "eth0",
          hostVeth: veth,
          mac: "",
          dnsNames: [],
          aliases: [],
          endpointId: "e".repeat(64),
        }],
        ports: [],
      });
      const orphan = net.ipam.allocate(bridge.id, { owner: "f".repeat(64) });
      const report = await s.engine.reconcileNetwork();
      assert.deepEqual(report.detached, [dead]);
      assert.equal(getLink(sock, veth), undefined);
      assert.equal(net.endpoint(dead), undefined);
      assert.deepEqual(net.ipam.getNetwork(bridge.id)?.allocated, {});
      assert.ok(orphan);
    } finally {
      await s.done();
    }
  },
});
