/**
 * Regression: an in-process engine killed with SIGKILL (`docker-ts run … -p 18777:80`, then
 * `kill -9` of the CLI) left its container's endpoint record, DNAT rule, address and DNS name
 * behind once the container died; only a daemon start reconciled them, so the next
 * `run -p 18777:80` failed with "port is already allocated", `ps -a` kept showing the port and
 * `network rm` refused the network ("active endpoints"). Now the next attach, network removal
 * or prune reaps records whose container is gone.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { NetworkManager } from "../../src/network/manager.ts";
import { Nat } from "../../src/network/nat.ts";
import { pidHasOwnNetns } from "../../src/network/network_store.ts";
import { summaryPorts } from "../../src/network/container_net.ts";
import { readSysctl, writeSysctl } from "../../src/network/sysctl.ts";
import { requires } from "../_helpers/requires.ts";
import { run, testName } from "./_helpers.ts";

/** A process in a network namespace of its own (stands in for a container's init). */
function fakeContainer(): Deno.ChildProcess {
  return new Deno.Command("unshare", {
    args: ["-n", "sleep", "60"],
    stdout: "null",
    stderr: "null",
  }).spawn();
}

async function waitOwnNetns(pid: number): Promise<void> {
  for (let i = 0; i < 100 && !pidHasOwnNetns(pid); i++) {
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.ok(pidHasOwnNetns(pid), "the stand-in never got its own netns");
}

Deno.test({
  name: "regression: what a SIGKILLed engine left is reaped by the next attach and by network rm",
  ...requires("root", "nft"),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "dts-net-reg-" });
    const forwardBefore = readSysctl("net/ipv4/ip_forward");
    const table = testName("t");
    const prefix = testName("").slice(0, 8);
    const opts = {
      root: path.join(dir, "root"),
      runroot: path.join(dir, "run"),
      defaultBridge: testName("b"),
      bridgePrefix: prefix,
      vethPrefix: `${prefix.slice(4)}v`,
      natTable: table,
      defaultSubnet: "10.231.20.0/24",
      dnsPort: 0,
      dnsUpstreams: [],
    };
    const procs: Deno.ChildProcess[] = [];
    const first = new NetworkManager(opts);
    const second = new NetworkManager(opts);
    try {
      const net = await first.createNetwork({ name: testName("n"), subnet: "10.231.21.0/24" });
      const nat = new Nat({ table, lockDir: opts.runroot });
      const rulesOf = async (port: number) =>
        (await nat.listRules()).filter((r) => r.comment.includes(`:${port} `));
      const port = { proto: "tcp" as const, hostIp: "", hostPort: 18777, hostPortEnd: 18777 };

      // 1. A dead container on a user network: `network rm` heals and succeeds.
      const dead1 = fakeContainer();
      procs.push(dead1);
      await waitOwnNetns(dead1.pid);
      const dead1Id = "a".repeat(64);
      const rec = await first.attach({
        containerId: dead1Id,
        name: "killme",
        hostname: "killme",
        pid: dead1.pid,
        networks: [{ network: net.name, aliases: ["km"] }],
        publish: [{ ...port, containerPort: 80 }],
      });
      assert.equal(summaryPorts(rec).length, 1);
      assert.equal((await rulesOf(18777)).length, 1);
      // The engine is "killed" (its manager forgotten), then the container dies.
      await first.close();
      dead1.kill("SIGKILL");
      await dead1.status;
      assert.equal(pidHasOwnNetns(dead1.pid), false);
      assert.deepEqual(summaryPorts(second.endpoint(dead1Id)), [], "ps shows no stale port");
      assert.equal(
        second.settings(dead1Id, { mode: net.name }).Networks[net.name] !== undefined,
        true,
      );
      await second.removeNetwork(net.name);
      assert.equal(second.endpoint(dead1Id), undefined, "the stale record is gone");
      assert.equal((await rulesOf(18777)).length, 0, "its DNAT rule is gone");

      // 2. A dead container holding a host port: the next attach heals and gets the port.
      const dead2 = fakeContainer();
      procs.push(dead2);
      await waitOwnNetns(dead2.pid);
      const dead2Id = "c".repeat(64);
      await second.attach({
        containerId: dead2Id,
        name: "killme2",
        hostname: "killme2",
        pid: dead2.pid,
        networks: [{ network: "bridge" }],
        publish: [{ ...port, containerPort: 80 }],
      });
      const bridge = await second.getNetwork("bridge");
      await second.close();
      dead2.kill("SIGKILL");
      await dead2.status;
      const third = new NetworkManager(opts);
      const live = fakeContainer();
      procs.push(live);
      await waitOwnNetns(live.pid);
      const liveId = "b".repeat(64);
      await third.attach({
        containerId: liveId,
        name: "next",
        hostname: "next",
        pid: live.pid,
        networks: [{ network: "bridge" }],
        publish: [{ ...port, containerPort: 81 }],
      });
      assert.equal(third.endpoint(dead2Id), undefined, "the stale record is gone");
      const owners = Object.values(third.ipam.getNetwork(bridge.id)?.allocated ?? {});
      assert.deepEqual(owners, [liveId], "only the live container holds an address");
      const rules = await rulesOf(18777);
      assert.equal(rules.length, 1);
      assert.ok(rules[0].comment.endsWith(":81"), "the new container holds the port");
      await third.detach(liveId);
      assert.equal(third.store.endpoints().length, 0);
    } finally {
      for (const p of procs) {
        try {
          p.kill("SIGKILL");
        } catch {
          // gone already
        }
        await p.status;
      }
      await second.close();
      for (const n of second.store.networks()) run("ip", ["link", "del", n.bridge]);
      await new Nat({ table, lockDir: opts.runroot }).deleteTable();
      writeSysctl("net/ipv4/ip_forward", forwardBefore);
      await Deno.remove(dir, { recursive: true });
    }
  },
});
