/**
 * `docker-ts attach`: show a running container's output from now on and exit with its code.
 *
 * Limit: the output comes from the container's log files, so stdin is not attached (a detached
 * container's stdin is /dev/null); `--no-stdin` is therefore always in effect.
 *
 * @module
 */
import type { Command } from "../command.ts";
import { PROG } from "../command.ts";
import { need } from "../container_verbs.ts";

/** The `attach` verb. */
export const command: Command = {
  name: "attach",
  usage: "[OPTIONS] CONTAINER",
  description: "Attach local standard input, output, and error streams to a running container",
  aliases: [`${PROG} container attach`, `${PROG} attach`],
  flags: [
    {
      name: "detach-keys",
      kind: "string",
      description: "Override the key sequence for detaching a container",
    },
    { name: "no-stdin", kind: "bool", description: "Do not attach STDIN" },
    {
      name: "sig-proxy",
      kind: "bool",
      description: "Proxy all received signals to the process",
      default: true,
    },
  ],
  args: { min: 1, max: 1 },
  async action(ctx, parsed): Promise<number> {
    const engine = await ctx.engine();
    const info = await engine.inspect(parsed.positionals[0]);
    if (!info.State.Running) {
      throw new Error("You cannot attach to a stopped container, start it first");
    }
    const onSig = (sig: Deno.Signal) => () => engine.kill(info.Id, sig).catch(() => {});
    const handlers: [Deno.Signal, () => void][] = parsed.values["sig-proxy"] !== false
      ? (["SIGINT", "SIGTERM"] as Deno.Signal[]).map((s) => [s, onSig(s)])
      : [];
    for (const [s, h] of handlers) Deno.addSignalListener(s, h);
    try {
      for await (const e of need(engine, "logs")(info.Id, { follow: true, tail: 0 })) {
        if (e.stream === "stderr") ctx.io.writeErr(e.data);
        else ctx.io.writeOut(e.data);
      }
    } finally {
      for (const [s, h] of handlers) Deno.removeSignalListener(s, h);
    }
    return await engine.wait(info.Id);
  },
};
