/**
 * `docker-ts run`: create and start a container in the foreground, attached to the terminal,
 * and exit with its code.
 *
 * @module
 */
import type { Command } from "../command.ts";
import { bool, PROG } from "../command.ts";
import { CREATE_FLAGS, RUN_ONLY_FLAGS, toRunOptions } from "../run_flags.ts";
import { CliError } from "../cli_error.ts";
import { ensureImage } from "../image_ops.ts";
import { attachTerminal } from "../attach.ts";

/** The `run` verb. */
export const command: Command = {
  name: "run",
  usage: "[OPTIONS] IMAGE [COMMAND] [ARG...]",
  description: "Create and run a new container from an image",
  aliases: [`${PROG} container run`, `${PROG} run`],
  flags: [...CREATE_FLAGS, ...RUN_ONLY_FLAGS],
  interspersed: false,
  args: { min: 1 },
  engineErrorCode: 125,
  async action(ctx, parsed): Promise<number> {
    const opts = toRunOptions(parsed, ctx.env);
    if (opts.detach) {
      throw new CliError(
        "Detached mode (-d) needs the docker-ts daemon, which is not available yet",
        125,
      );
    }
    // docker checks this only when stdin is attached to the pty (-it).
    if (opts.tty && opts.interactive && !ctx.io.stdinIsTerminal()) {
      throw new CliError("the input device is not a TTY", 1);
    }
    const engine = await ctx.engine();
    const ready = await ensureImage(ctx, engine, opts, bool(parsed, "quiet"));
    const attachment = await attachTerminal(ctx, engine, {
      tty: opts.tty === true,
      interactive: opts.interactive === true,
      sigProxy: bool(parsed, "sig-proxy"),
    });
    try {
      return await engine.run(ready, {
        ...attachment.streams,
        signal: attachment.signal,
        onCreated: (id) => attachment.setContainer(id),
      });
    } catch (err) {
      const code = attachment.abortedExitCode();
      if (code !== undefined) return code;
      throw err;
    } finally {
      attachment.close();
    }
  },
};
