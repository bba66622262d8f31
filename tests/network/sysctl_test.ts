import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import {
  enableIpForward,
  readSysctl,
  setRouteLocalnet,
  writeSysctl,
} from "../../src/network/sysctl.ts";
import { InvalidArgumentError } from "../../src/errors.ts";

Deno.test("sysctls against a temp /proc/sys tree", () => {
  const procSys = Deno.makeTempDirSync({ prefix: "dts-sysctl-" });
  try {
    fs.mkdirSync(path.join(procSys, "net/ipv4/conf/br.5"), { recursive: true });
    fs.writeFileSync(path.join(procSys, "net/ipv4/ip_forward"), "0\n");
    fs.writeFileSync(path.join(procSys, "net/ipv4/conf/br.5/route_localnet"), "0\n");
    assert.equal(readSysctl("net.ipv4.ip_forward", { procSys }), "0");
    assert.equal(enableIpForward({ procSys }), true);
    assert.equal(enableIpForward({ procSys }), false);
    assert.equal(readSysctl("net/ipv4/ip_forward", { procSys }), "1");
    assert.equal(setRouteLocalnet("br.5", true, { procSys }), false);
    assert.equal(readSysctl("net/ipv4/conf/br.5/route_localnet", { procSys }), "1");
    assert.equal(writeSysctl("net.ipv4.ip_forward", "0", { procSys }), "1");
    assert.throws(() => readSysctl("net/../../etc/passwd", { procSys }), InvalidArgumentError);
    assert.throws(() => setRouteLocalnet("../x", true, { procSys }), InvalidArgumentError);
  } finally {
    fs.rmSync(procSys, { recursive: true });
  }
});
