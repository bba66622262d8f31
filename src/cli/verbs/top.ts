/**
 * `docker-ts top`: the running processes of a container (host `ps` restricted to them).
 *
 * @module
 */
import type { Command } from "../command.ts";
import { PROG } from "../command.ts";
import { need } from "../container_verbs.ts";
import { alignTabs } from "../table.ts";

/** The `top` verb. */
export const command: Command = {
  name: "top",
  usage: "CONTAINER [ps OPTIONS]",
  description: "Display the running processes of a container",
  aliases: [`${PROG} container top`, `${PROG} top`],
  flags: [],
  interspersed: false,
  args: { min: 1 },
  async action(ctx, parsed): Promise<number> {
    const [id, ...ps] = parsed.positionals;
    const top = await need(await ctx.engine(), "top")(id, ps.length ? ps.join(" ") : undefined);
    const lines = [top.Titles.join("\t"), ...top.Processes.map((p) => p.join("\t"))];
    ctx.io.writeOut(alignTabs(lines).join("\n") + "\n");
    return 0;
  },
};
