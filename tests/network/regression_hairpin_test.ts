/**
 * Regression: a container could not reach its own published port through the host
 * (`run -p 18931:80 … wget http://<gateway>:18931/` from inside it timed out; Docker answers,
 * through its userland proxy or, without it, hairpin mode plus a masquerade rule).
 * Two things are needed: hairpin mode on the container's bridge port (manager.ts, fixed and
 * tested here) and a masquerade rule that matches with br_netfilter loaded (nat.ts, not fixed:
 * see the ignored test).
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { Engine } from "../../src/engine.ts";
import { NetworkManager } from "../../src/network/manager.ts";
import { Nat } from "../../src/network/nat.ts";
import { pidHasOwnNetns } from "../../src/network/network_store.ts";
import { readSysctl, writeSysctl } from "../../src/network/sysctl.ts";
import { ensureFixtures } from "../_helpers/fixtures.ts";
import { requires } from "../_helpers/requires.ts";
import { run, testName } from "./_helpers.ts";

Deno.test({
  name: "regression: a container's bridge port is in hairpin mode",
  ...requires("root", "nft"),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "dts-net-reg-" });
    const forwardBefore = readSysctl("net/ipv4/ip_forward");
    const prefix = testName("").slice(0, 8);
    const table = testName("t");
    const m = new NetworkManager({
      root: path.join(dir, "root"),
      runroot: path.join(dir, "run"),
      defaultBridge: testName("b"),
      bridgePrefix: prefix,
      vethPrefix: `${prefix.slice(4)}v`,
      natTable: table,
      defaultSubnet: "10.231.50.0/24",
    });
    const proc = new Deno.Command("unshare", {
      args: ["-n", "sleep", "60"],
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      for (let i = 0; i < 100 && !pidHasOwnNetns(proc.pid); i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      const id = "f".repeat(64);
      const rec = await m.attach({
        containerId: id,
        name: "hp",
        hostname: "hp",
        pid: proc.pid,
        networks: [{ network: "bridge" }],
      });
      const veth = rec.networks[0].hostVeth;
      assert.equal(
        Deno.readTextFileSync(`/sys/class/net/${veth}/brport/hairpin_mode`).trim(),
        "1",
      );
      await m.detach(id);
    } finally {
      proc.kill("SIGKILL");
      await proc.status;
      await m.close();
      for (const n of m.store.networks()) run("ip", ["link", "del", n.bridge]);
      await new Nat({ table, lockDir: path.join(dir, "run") }).deleteTable();
      writeSysctl("net/ipv4/ip_forward", forwardBefore);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "regression: a container reaches its own published port through the host gateway",
  // With br_netfilter loaded (bridge-nf-call-iptables=1, as on this host) a bridged packet
  // reaches the nat postrouting hook with no input device, so nat.ts matches the hairpin on the
  // source subnet instead of `iifname`.
  ...requires("root", "overlay", "nft", "busybox"),
  async fn() {
    const fx = await ensureFixtures();
    const dir = await Deno.makeTempDir({ prefix: "dts-net-reg-" });
    const forwardBefore = readSysctl("net/ipv4/ip_forward");
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
        defaultSubnet: "10.231.51.0/24",
      },
    });
    try {
      await engine.load(fx.dockerArchive("busybox"));
      const chunks: Uint8Array[] = [];
      const stdout = new WritableStream<Uint8Array>({
        write(c) {
          chunks.push(c.slice());
        },
      });
      const code = await engine.run({
        image: "busybox",
        rm: true,
        publish: ["18931:80"],
        cmd: [
          "sh",
          "-c",
          // nc's -w bounds the connect (busybox wget's -T crashes in this build).
          "httpd -p 80 -h /etc && printf 'GET /hostname HTTP/1.0\\r\\n\\r\\n' | nc -w 3 10.231.51.1 18931",
        ],
      }, { stdout });
      assert.equal(code, 0);
      assert.match(chunks.map((c) => new TextDecoder().decode(c)).join(""), /\n[0-9a-f]{12}\n$/);
    } finally {
      const net = await engine.network();
      await net.close();
      for (const n of net.store.networks()) run("ip", ["link", "del", n.bridge]);
      await new Nat({ table, lockDir: path.join(dir, "run") }).deleteTable();
      writeSysctl("net/ipv4/ip_forward", forwardBefore);
      await Deno.remove(dir, { recursive: true });
    }
  },
});
