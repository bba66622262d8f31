import assert from "node:assert/strict";
import { createBodyFromRunOptions } from "../../src/api/client.ts";
import { runOptionsFromCreateBody } from "../../src/api/handlers/containers.ts";

Deno.test("api: --ip and --network-alias survive the trip through the create body", () => {
  const body = createBodyFromRunOptions({
    image: "busybox",
    network: "dtstnet",
    ip: "10.99.0.7",
    networkAliases: ["db", "primary"],
  });
  const endpoints = (body.NetworkingConfig as { EndpointsConfig: Record<string, unknown> })
    .EndpointsConfig;
  assert.deepEqual(Object.keys(endpoints), ["dtstnet"]);
  const { options } = runOptionsFromCreateBody(body, "x");
  assert.equal(options.network, "dtstnet");
  assert.equal(options.ip, "10.99.0.7");
  assert.deepEqual(options.networkAliases, ["db", "primary"]);
});

Deno.test("api: a docker CLI body's endpoint config maps to ip and aliases", () => {
  const { options } = runOptionsFromCreateBody({
    Image: "busybox",
    HostConfig: { NetworkMode: "dtstnet" },
    NetworkingConfig: {
      EndpointsConfig: {
        dtstnet: { Aliases: ["web"], IPAMConfig: { IPv4Address: "10.99.0.9" } },
      },
    },
  });
  assert.equal(options.ip, "10.99.0.9");
  assert.deepEqual(options.networkAliases, ["web"]);
});
