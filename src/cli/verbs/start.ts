/**
 * `docker-ts start`: start created or exited containers; with `-a` stay attached and exit with
 * the container's code.
 *
 * @module
 */
import type { Command } from "../command.ts";
import { bool, PROG, reportError } from "../command.ts";
import { attachTerminal } from "../attach.ts";
import { CliError } from "../cli_error.ts";

/** The `start` verb. */
export const command: Command = {
  name: "start",
  usage: "[OPTIONS] CONTAINER [CONTAINER...]",
  description: "Start one or more stopped containers",
  aliases: [`${PROG} container start`, `${PROG} start`],
  flags: [
    {
      name: "attach",
      short: "a",
      kind: "bool",
      description: "Attach STDOUT/STDERR and forward signals",
    },
    { name: "interactive", short: "i", kind: "bool", description: "Attach container's STDIN" },
  ],
  args: { min: 1 },
  async action(ctx, parsed): Promise<number> {
    const engine = await ctx.engine();
    const attach = bool(parsed, "attach") || bool(parsed, "interactive");
    if (attach) {
      if (parsed.positionals.length > 1) {
        throw new CliError("you cannot start and attach multiple containers at once");
      }
      const [id] = parsed.positionals;
      const info = await engine.inspect(id);
      const tty = info.Config.Tty === true;
      const interactive = bool(parsed, "interactive");
      if (tty && interactive && !ctx.io.stdinIsTerminal()) {
        throw new CliError("the input device is not a TTY");
      }
      const attachment = await attachTerminal(ctx, engine, { tty, interactive, sigProxy: true });
      try {
        attachment.setContainer(info.Id);
        await engine.start(info.Id, { ...attachment.streams, signal: attachment.signal });
        return await engine.wait(info.Id);
      } finally {
        attachment.close();
      }
    }
    let failed = false;
    for (const id of parsed.positionals) {
      try {
        await engine.start(id);
        ctx.io.writeOut(`${id}\n`);
      } catch (err) {
        reportError(ctx, err);
        failed = true;
      }
    }
    return failed ? 1 : 0;
  },
};
