import assert from "node:assert/strict";
import {
  broadcastOf,
  contains,
  intToIp,
  ipToInt,
  overlaps,
  parseCidr,
} from "../../src/network/ipv4.ts";
import { InvalidArgumentError } from "../../src/errors.ts";

Deno.test("ipv4 arithmetic", () => {
  assert.equal(ipToInt("255.255.255.255"), 0xffffffff);
  assert.equal(intToIp(ipToInt("172.17.0.1")), "172.17.0.1");
  assert.throws(() => ipToInt("1.2.3"), InvalidArgumentError);
  assert.throws(() => ipToInt("1.2.3.256"), InvalidArgumentError);
  assert.throws(() => ipToInt("01.2.3.4"), InvalidArgumentError);
  const s = parseCidr("172.17.0.0/16");
  assert.equal(intToIp(s.broadcast), "172.17.255.255");
  assert.ok(contains(s, ipToInt("172.17.3.4")));
  assert.ok(!contains(s, ipToInt("172.18.0.1")));
  assert.throws(
    () => parseCidr("172.17.0.1/16"),
    /host bits are set \(did you mean "172.17.0.0\/16"\?\)/,
  );
  assert.equal(parseCidr("172.17.0.1/16", false).cidr, "172.17.0.0/16");
  assert.ok(overlaps(parseCidr("10.0.0.0/8"), parseCidr("10.1.0.0/16")));
  assert.ok(!overlaps(parseCidr("10.0.0.0/16"), parseCidr("10.1.0.0/16")));
  assert.equal(parseCidr("0.0.0.0/0").broadcast, 0xffffffff);
  assert.equal(broadcastOf("10.99.1.2", 24), "10.99.1.255");
});
