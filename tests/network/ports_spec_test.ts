import assert from "node:assert/strict";
import {
  networkPortsOf,
  parsePublish,
  portBindingsOf,
  portLines,
  publishAllSpecs,
} from "../../src/network/port_spec.ts";
import { choosePorts } from "../../src/network/ports.ts";

Deno.test("ports: -p forms parse as Docker does", () => {
  assert.deepEqual(parsePublish("80"), [
    { proto: "tcp", hostIp: "", hostPort: 0, hostPortEnd: 0, containerPort: 80 },
  ]);
  assert.deepEqual(parsePublish("127.0.0.1:8080:80/udp"), [
    { proto: "udp", hostIp: "127.0.0.1", hostPort: 8080, hostPortEnd: 8080, containerPort: 80 },
  ]);
  assert.deepEqual(parsePublish("127.0.0.1::80")[0].hostPort, 0);
  assert.deepEqual(parsePublish("0.0.0.0:81:80")[0].hostIp, "");
  assert.deepEqual(parsePublish("8000-8001:80-81").map((p) => [p.hostPort, p.containerPort]), [
    [8000, 80],
    [8001, 81],
  ]);
  assert.deepEqual(parsePublish("8000-8010:80")[0], {
    proto: "tcp",
    hostIp: "",
    hostPort: 8000,
    hostPortEnd: 8010,
    containerPort: 80,
  });
  assert.equal(parsePublish("80-82").length, 3);
});

Deno.test("ports: invalid -p specs are one clear InvalidArgument each", () => {
  for (
    const bad of [
      "",
      "abc",
      "80/sctpx",
      "1.2.3:80:80",
      "70000:80",
      "80:0",
      "8000-8002:80-81",
      "a:b:c:d",
      "90-80:80",
    ]
  ) {
    assert.throws(() => parsePublish(bad), { kind: "InvalidArgument" }, bad);
    assert.throws(() => parsePublish(bad), /^InvalidArgumentError: Invalid port publish spec/);
  }
});

Deno.test("ports: -P, views and docker port lines", () => {
  const specs = publishAllSpecs(["80/tcp", "53/udp", "9000-9001", "132/sctp"]);
  assert.deepEqual(specs.map((s) => `${s.containerPort}/${s.proto}`), [
    "80/tcp",
    "53/udp",
    "9000/tcp",
    "9001/tcp",
  ]);
  assert.deepEqual(portBindingsOf(parsePublish("127.0.0.1::80")), {
    "80/tcp": [{ HostIp: "127.0.0.1", HostPort: "" }],
  });
  const bound = [{ proto: "tcp" as const, hostIp: "", hostPort: 32768, containerPort: 80 }];
  assert.deepEqual(networkPortsOf(bound, ["80/tcp", "443/tcp"]), {
    "80/tcp": [{ HostIp: "0.0.0.0", HostPort: "32768" }],
    "443/tcp": null,
  });
  assert.deepEqual(portLines(bound), ["80/tcp -> 0.0.0.0:32768"]);
  assert.deepEqual(portLines(bound, "80"), ["0.0.0.0:32768"]);
  assert.deepEqual(portLines(bound, "80/udp"), []);
});

Deno.test("ports: choosing host ports avoids taken ones and reports conflicts", async () => {
  const busy = new Set([40001]);
  const isFree = (_p: string, _ip: string, port: number) => Promise.resolve(!busy.has(port));
  const taken = [{ proto: "tcp" as const, hostIp: "", hostPort: 40002, containerPort: 1 }];
  const got = await choosePorts(parsePublish("40000-40003:80"), {
    taken,
    isFree,
    range: [40000, 40010],
  });
  assert.equal(got[0].hostPort, 40000);
  const two = await choosePorts([...parsePublish("80"), ...parsePublish("81")], {
    taken,
    isFree,
    range: [40000, 40003],
  });
  assert.equal(new Set(two.map((b) => b.hostPort)).size, 2);
  assert.ok(two.every((b) => b.hostPort !== 40001 && b.hostPort !== 40002));
  await assert.rejects(
    () => choosePorts(parsePublish("40001:80"), { taken, isFree }),
    { kind: "Conflict", message: /already allocated/ },
  );
  await assert.rejects(
    () => choosePorts(parsePublish("127.0.0.1:40002:80"), { taken, isFree }),
    { kind: "Conflict" },
  );
  // Same port, other protocol: fine.
  assert.equal(
    (await choosePorts(parsePublish("40002:80/udp"), { taken, isFree }))[0].hostPort,
    40002,
  );
  // The real probe sees a socket held by this process.
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  try {
    await assert.rejects(
      () => choosePorts(parsePublish(`127.0.0.1:${port}:80`), { taken: [] }),
      { kind: "Conflict" },
    );
  } finally {
    l.close();
  }
});
