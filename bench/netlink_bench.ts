/**
 * Creating and deleting a veth pair: netlink over FFI (one socket, two requests) versus the
 * `ip link add … type veth` / `ip link del` subprocesses the same work costs with iproute2.
 * Runs inside a network namespace the bench creates (root only) and deletes at unload.
 *
 *   deno bench -A bench/netlink_bench.ts
 */
import { openRouteSocketIn } from "../src/network/netns.ts";
import { createVeth, deleteLink, getLink, setLink } from "../src/network/links.ts";
import type { RouteSocket } from "../src/network/socket.ts";

const isRoot = Deno.uid() === 0;
const ns = `dtstbench${crypto.randomUUID().slice(0, 4)}`;
let sock: RouteSocket | undefined;

if (isRoot) {
  new Deno.Command("ip", { args: ["netns", "add", ns] }).outputSync();
  sock = await openRouteSocketIn(`/run/netns/${ns}`);
  globalThis.addEventListener("unload", () => {
    sock?.close();
    new Deno.Command("ip", { args: ["netns", "del", ns] }).outputSync();
  });
}

function ip(args: string[]): void {
  const out = new Deno.Command("ip", { args: ["-n", ns, ...args], stderr: "piped" }).outputSync();
  if (out.code !== 0) throw new Error(new TextDecoder().decode(out.stderr));
}

Deno.bench({
  name: "veth pair create + delete: netlink over FFI",
  group: "veth",
  baseline: true,
  ignore: !isRoot,
  fn() {
    createVeth(sock!, { name: "bv0", peer: "bv1" });
    deleteLink(sock!, "bv0");
  },
});

Deno.bench({
  name: "veth pair create + delete: `ip link` subprocesses",
  group: "veth",
  ignore: !isRoot,
  fn() {
    ip(["link", "add", "bv0", "type", "veth", "peer", "name", "bv1"]);
    ip(["link", "del", "bv0"]);
  },
});

Deno.bench({
  name: "link lookup by name (RTM_GETLINK)",
  group: "small",
  ignore: !isRoot,
  fn() {
    getLink(sock!, "lo");
  },
});

Deno.bench({
  name: "link set up (RTM_NEWLINK with IFF_UP)",
  group: "small",
  ignore: !isRoot,
  fn() {
    setLink(sock!, "lo", { up: true });
  },
});

Deno.bench({
  name: "open a socket in a netns (single-use Worker + setns)",
  ignore: !isRoot,
  async fn() {
    (await openRouteSocketIn(`/run/netns/${ns}`)).close();
  },
});
