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
import { ensureImage, withImage } from "../image_ops.ts";
import type { RunOptionsInput } from "../../engine_api.ts";
import { attachTerminal } from "../attach.ts";
import { SUPERVISION_FLAGS, withSupervision } from "../supervision_flags.ts";

/** The `run` verb. */
export const command: Command = {
  name: "run",
  usage: "[OPTIONS] IMAGE [COMMAND] [ARG...]",
  description: "Create and run a new container from an image",
  aliases: [`${PROG} container run`, `${PROG} run`],
  flags: [...CREATE_FLAGS, ...RUN_ONLY_FLAGS, ...SUPERVISION_FLAGS],
  interspersed: false,
  args: { min: 1 },
  engineErrorCode: 125,
  async action(ctx, parsed): Promise<number> {
    const opts = withSupervision(toRunOptions(parsed, ctx.env), parsed);
    if (opts.detach) {
      // Output goes to the container's log files, which the kernel keeps writing after this
      // process exits; a daemon (when one serves the CLI) converts them and applies restart
      // policies. Without one, exit codes of containers that exit later stay unknown.
      const engine = await ctx.engine();
      const ready = await ensureImage(ctx, engine, opts, bool(parsed, "quiet"));
      const { Id } = await engine.create(ready);
      try {
        await engine.start(Id);
      } catch (err) {
        if (opts.rm) await engine.remove(Id, { force: true }).catch(() => {});
        throw err;
      }
      ctx.io.writeOut(`${Id}\n`);
      if ("supervisor" in engine && (opts as { restart?: string }).restart) {
        // In-process engine: nobody watches the container once this process exits.
        ctx.io.writeErr(
          "WARNING: no docker-ts daemon supervises this container: its restart policy applies once a daemon runs\n",
        );
      }
      return 0;
    }
    // docker checks this only when stdin is attached to the pty (-it).
    if (opts.tty && opts.interactive && !ctx.io.stdinIsTerminal()) {
      throw new CliError("the input device is not a TTY", 1);
    }
    const engine = await ctx.engine();
    const quiet = bool(parsed, "quiet");
    // With a terminal the pull (if any) must print before raw mode: check for the image first.
    const checked = opts.tty ? await ensureImage(ctx, engine, opts, quiet) : opts;
    const attachment = await attachTerminal(ctx, engine, {
      tty: opts.tty === true,
      interactive: opts.interactive === true,
      sigProxy: bool(parsed, "sig-proxy"),
    });
    const runWith = (ready: RunOptionsInput): Promise<number> =>
      engine.run(ready, {
        ...attachment.streams,
        // docker's CLI: a closed stdout ends the run with "write /dev/stdout: broken pipe".
        onOutputError: "end",
        signal: attachment.signal,
        onCreated: (id) => attachment.setContainer(id),
      });
    try {
      return opts.tty ? await runWith(checked) : await withImage(ctx, engine, opts, quiet, runWith);
    } catch (err) {
      const code = attachment.abortedExitCode();
      if (code !== undefined) return code;
      throw err;
    } finally {
      attachment.close();
    }
  },
};
