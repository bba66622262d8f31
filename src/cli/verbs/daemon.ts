/**
 * `docker-ts daemon`: the engine plus the Docker Engine API server (see `src/api/daemon.ts`).
 * `--root`/`--runroot` may come before the verb (global flags) or after it, as the README shows
 * (`docker-ts daemon --root DIR --runroot DIR`); `-H` names the socket (default
 * `<runroot>/docker-ts.sock`).
 *
 * @module
 */
import { lazyImport } from "../../util/lazy_import.ts";
import type { Command } from "../command.ts";
import { PROG } from "../command.ts";
import { defaultSocket } from "../context.ts";

/** The `daemon` verb. */
export const command: Command = {
  name: "daemon",
  usage: "[OPTIONS]",
  description: "Run the docker-ts engine with a Docker Engine API server on a unix socket",
  aliases: [`${PROG} daemon`],
  flags: [
    {
      name: "host",
      short: "H",
      kind: "string",
      description: "Daemon socket to listen on (default unix://<runroot>/docker-ts.sock)",
    },
    {
      name: "root",
      kind: "string",
      valueName: "string",
      description: "Root directory of persistent state (overrides the global --root)",
    },
    {
      name: "runroot",
      kind: "string",
      valueName: "string",
      description: "Root directory of runtime state (overrides the global --runroot)",
    },
    {
      name: "bridge",
      short: "b",
      kind: "string",
      description: 'Default network of new containers ("none": leave the host\'s firewall alone)',
    },
    {
      name: "idle-exit",
      kind: "string",
      description: "Exit after this long with no running container and no client (e.g. 30s)",
    },
  ],
  args: { max: 0 },
  async action(ctx, parsed): Promise<number> {
    const { daemonMain } = await lazyImport<typeof import("../../api/daemon.ts")>(
      new URL("../../api/daemon.ts", import.meta.url),
    );
    const root = String(parsed.values.root || "") || ctx.root;
    const runroot = String(parsed.values.runroot || "") || ctx.runroot;
    const host = String(parsed.values.host || ctx.host || "") ||
      `unix://${defaultSocket(runroot)}`;
    const args = ["-H", host, "--root", root, "--runroot", runroot];
    if (parsed.values.bridge) args.push("--bridge", String(parsed.values.bridge));
    if (parsed.values["idle-exit"]) args.push("--idle-exit", String(parsed.values["idle-exit"]));
    return await daemonMain(args);
  },
};
