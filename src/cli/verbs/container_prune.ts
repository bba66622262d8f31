/**
 * `docker-ts container prune`: remove all stopped containers.
 *
 * @module
 */
import type { Command } from "../command.ts";
import { bool, PROG } from "../command.ts";
import { need } from "../container_verbs.ts";
import { humanSize } from "../units.ts";

/** The `container prune` verb. */
export const command: Command = {
  name: "container prune",
  usage: "[OPTIONS]",
  description: "Remove all stopped containers",
  aliases: [`${PROG} container prune`],
  flags: [
    {
      name: "filter",
      kind: "list",
      description: 'Provide filter values (e.g. "until=<timestamp>")',
    },
    { name: "force", short: "f", kind: "bool", description: "Do not prompt for confirmation" },
  ],
  args: { max: 0 },
  async action(ctx, parsed): Promise<number> {
    if (!bool(parsed, "force")) {
      ctx.io.writeOut(
        "WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ",
      );
      const answer = await readLine(ctx.io.stdin());
      if (!/^y(es)?$/i.test(answer.trim())) return 0;
    }
    const labels: string[] = [];
    let until: string | undefined;
    for (const f of (parsed.values.filter as string[]) ?? []) {
      const eq = f.indexOf("=");
      const k = f.slice(0, eq);
      const v = f.slice(eq + 1);
      if (k === "label") labels.push(v);
      else if (k === "label!") labels.push(`!${v}`);
      else if (k === "until") until = v;
      else throw new Error(`invalid filter '${k}'`);
    }
    const report = await need(await ctx.engine(), "prune")({ labels, until });
    if (report.ContainersDeleted.length) {
      ctx.io.writeOut(`Deleted Containers:\n${report.ContainersDeleted.join("\n")}\n\n`);
    }
    ctx.io.writeOut(`Total reclaimed space: ${humanSize(report.SpaceReclaimed)}\n`);
    return 0;
  },
};

async function readLine(stream: ReadableStream<Uint8Array>): Promise<string> {
  const reader = stream.getReader();
  let text = "";
  try {
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
  } finally {
    reader.releaseLock();
  }
  return text;
}
