/**
 * `docker-ts create`: create a container and print its id.
 *
 * @module
 */
import type { Command } from "../command.ts";
import { bool, PROG } from "../command.ts";
import { CREATE_FLAGS, toRunOptions } from "../run_flags.ts";
import { ensureImage } from "../image_ops.ts";
import { SUPERVISION_FLAGS, withSupervision } from "../supervision_flags.ts";

/** The `create` verb. */
export const command: Command = {
  name: "create",
  usage: "[OPTIONS] IMAGE [COMMAND] [ARG...]",
  description: "Create a new container",
  aliases: [`${PROG} container create`, `${PROG} create`],
  flags: [...CREATE_FLAGS, ...SUPERVISION_FLAGS],
  interspersed: false,
  args: { min: 1 },
  engineErrorCode: 125,
  async action(ctx, parsed): Promise<number> {
    const opts = withSupervision(toRunOptions(parsed, ctx.env), parsed);
    const engine = await ctx.engine();
    const ready = await ensureImage(ctx, engine, opts, bool(parsed, "quiet"));
    const result = await engine.create(ready);
    for (const warning of result.Warnings ?? []) ctx.io.writeErr(`WARNING: ${warning}\n`);
    ctx.io.writeOut(`${result.Id}\n`);
    return 0;
  },
};
