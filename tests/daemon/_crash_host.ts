/**
 * A stand-in daemon for the kill -9 test: an Engine on the given roots that starts detached
 * containers, prints their ids as JSON, then supervises until killed.
 * Usage: deno run -A _crash_host.ts <root> <runroot>
 */
import { Engine } from "../../src/engine.ts";

const [root, runroot] = Deno.args;
const engine = new Engine({ root, runroot });
const ids: Record<string, string> = {};
for (
  const [name, cmd] of [
    ["long", [
      "sh",
      "-c",
      "trap 'exit 0' TERM; i=0; while true; do echo line$i; i=$((i+1)); sleep 0.1; done",
    ]],
    ["short", ["sh", "-c", "sleep 1; echo bye; exit 3"]],
    ["shortrm", ["sh", "-c", "sleep 1; exit 4"]],
  ] as const
) {
  const { Id } = await engine.create({
    image: "busybox",
    network: "none",
    name,
    cmd: [...cmd],
    rm: name === "shortrm",
  });
  await engine.start(Id);
  ids[name] = Id;
}
console.log(JSON.stringify(ids));
// Stay alive supervising (a daemon would serve the API here).
setInterval(() => {}, 1000);
