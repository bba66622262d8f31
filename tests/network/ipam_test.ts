import assert from "node:assert/strict";
import * as path from "node:path";
import { chooseSubnet, DEFAULT_POOLS, Ipam } from "../../src/network/ipam.ts";
import { parseCidr } from "../../src/network/ipv4.ts";
import {
  ConflictError,
  InvalidArgumentError,
  NotFoundError,
  UnavailableError,
} from "../../src/errors.ts";

async function withRoot(fn: (root: string) => Promise<void> | void): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "dts-ipam-" });
  try {
    await fn(root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("chooses the first default pool that avoids host routes and other networks", () => {
  assert.equal(chooseSubnet(DEFAULT_POOLS, [])?.cidr, "172.17.0.0/16");
  assert.equal(chooseSubnet(DEFAULT_POOLS, [parseCidr("172.17.5.0/24")])?.cidr, "172.18.0.0/16");
  assert.equal(chooseSubnet(DEFAULT_POOLS, [parseCidr("172.16.0.0/12")])?.cidr, "192.168.0.0/20");
  assert.equal(
    chooseSubnet([{ base: "10.0.0.0/30", size: 30 }], [parseCidr("10.0.0.0/8")]),
    undefined,
  );
});

Deno.test("addNetwork picks, fixes and refuses subnets", () =>
  withRoot((root) => {
    const ipam = new Ipam({ root });
    const a = ipam.addNetwork("bridge", { hostRoutes: ["172.17.0.0/16", "0.0.0.0/0"] });
    assert.deepEqual(a, { subnet: "172.18.0.0/16", gateway: "172.18.0.1", allocated: {} });
    const b = ipam.addNetwork("second");
    assert.equal(b.subnet, "172.17.0.0/16"); // host routes are given per call
    assert.throws(() => ipam.addNetwork("bridge"), ConflictError);
    assert.throws(
      () => ipam.addNetwork("c", { subnet: "172.18.4.0/24" }),
      (e: Error) =>
        e instanceof ConflictError &&
        /overlaps "172.18.0.0\/16" of network "bridge"/.test(e.message),
    );
    assert.throws(
      () => ipam.addNetwork("c", { subnet: "10.1.0.0/24", gateway: "10.2.0.1" }),
      InvalidArgumentError,
    );
    assert.throws(() => ipam.addNetwork("c", { subnet: "10.1.0.1/24" }), InvalidArgumentError);
    const c = ipam.addNetwork("c", { subnet: "10.1.0.0/24", gateway: "10.1.0.254" });
    assert.equal(c.gateway, "10.1.0.254");
    // Persisted: a fresh instance sees the same state.
    assert.deepEqual(Object.keys(new Ipam({ root }).listNetworks()).sort(), [
      "bridge",
      "c",
      "second",
    ]);
  }));

Deno.test("allocate never hands out network, gateway or broadcast, and does not reuse at once", () =>
  withRoot((root) => {
    const ipam = new Ipam({ root });
    ipam.addNetwork("n", { subnet: "10.9.0.0/29" }); // hosts .1-.6, gateway .1
    const got = [1, 2, 3, 4, 5].map(() => ipam.allocate("n", { owner: "c" }));
    assert.deepEqual(got, ["10.9.0.2", "10.9.0.3", "10.9.0.4", "10.9.0.5", "10.9.0.6"]);
    assert.throws(() => ipam.allocate("n"), UnavailableError);
    assert.equal(ipam.release("n", "10.9.0.3"), true);
    assert.equal(ipam.release("n", "10.9.0.3"), false);
    assert.equal(ipam.allocate("n"), "10.9.0.3");
    assert.equal(ipam.releaseOwner("c"), 4);
    // Continues after the last one handed out (.3), wrapping past the broadcast.
    assert.equal(ipam.allocate("n"), "10.9.0.4");
    assert.throws(() => ipam.allocate("missing"), NotFoundError);
  }));

Deno.test("allocate honours a requested address and refuses bad ones", () =>
  withRoot((root) => {
    const ipam = new Ipam({ root });
    ipam.addNetwork("n", { subnet: "10.9.0.0/24" });
    assert.equal(ipam.allocate("n", { requested: "10.9.0.77", owner: "a" }), "10.9.0.77");
    assert.throws(() => ipam.allocate("n", { requested: "10.9.0.77" }), ConflictError);
    assert.throws(() => ipam.allocate("n", { requested: "10.9.0.1" }), /it is the gateway address/);
    assert.throws(() => ipam.allocate("n", { requested: "10.9.0.0" }), /network address/);
    assert.throws(() => ipam.allocate("n", { requested: "10.9.0.255" }), /broadcast address/);
    assert.throws(() => ipam.allocate("n", { requested: "10.9.1.5" }), /not in subnet/);
    assert.throws(() => ipam.removeNetwork("n"), ConflictError);
    assert.equal(ipam.prune((owner) => owner !== "a"), 1);
    assert.equal(ipam.removeNetwork("n"), true);
    assert.equal(ipam.removeNetwork("n"), false);
  }));

Deno.test("a corrupt state file is a clear error", () =>
  withRoot((root) => {
    Deno.writeTextFileSync(path.join(root, "ipam.json"), "{nope");
    assert.throws(
      () => new Ipam({ root }).listNetworks(),
      /Cannot read IPAM state ".*ipam.json": it is corrupt/,
    );
  }));

Deno.test("20 concurrent processes get 20 distinct addresses", () =>
  withRoot(async (root) => {
    new Ipam({ root }).addNetwork("n", { subnet: "10.20.0.0/24" });
    const child = new URL("./_ipam_child.ts", import.meta.url).pathname;
    const procs = Array.from({ length: 20 }, (_, i) =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--no-prompt", child, root, "n", `c${i}`],
        stdout: "piped",
        stderr: "piped",
      }).spawn());
    const outs = await Promise.all(procs.map((p) => p.output()));
    for (const o of outs) assert.equal(o.code, 0, new TextDecoder().decode(o.stderr));
    const addrs = outs.map((o) => new TextDecoder().decode(o.stdout).trim());
    assert.equal(new Set(addrs).size, 20);
    const pool = new Ipam({ root }).getNetwork("n")!;
    assert.equal(Object.keys(pool.allocated).length, 20);
    assert.ok(!addrs.includes("10.20.0.1"));
    assert.deepEqual(new Set(Object.values(pool.allocated)), new Set(addrs.map((_, i) => `c${i}`)));
  }));
