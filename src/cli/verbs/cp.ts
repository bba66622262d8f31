/**
 * `docker-ts cp`: copy files between a running container and the host, both directions.
 * Symlinks inside the container resolve against the container's root.
 *
 * @module
 */
import type { Command } from "../command.ts";
import { PROG } from "../command.ts";
import { CliError } from "../cli_error.ts";
import { need } from "../container_verbs.ts";

function split(arg: string): { container?: string; path: string } {
  // "name:/path"; a path with a slash before the colon is a host path (docker's rule).
  const colon = arg.indexOf(":");
  if (colon > 0 && !arg.slice(0, colon).includes("/")) {
    return { container: arg.slice(0, colon), path: arg.slice(colon + 1) };
  }
  return { path: arg };
}

/** The `cp` verb. */
export const command: Command = {
  name: "cp",
  usage:
    "[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\t${PROG} cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH"
      .replace("${PROG}", PROG),
  description: "Copy files/folders between a container and the local filesystem",
  aliases: [`${PROG} container cp`, `${PROG} cp`],
  flags: [
    {
      name: "archive",
      short: "a",
      kind: "bool",
      description: "Archive mode (copy all uid/gid information)",
    },
    {
      name: "follow-link",
      short: "L",
      kind: "bool",
      description: "Always follow symbol link in SRC_PATH",
    },
    {
      name: "quiet",
      short: "q",
      kind: "bool",
      description: "Suppress progress output during copy",
    },
  ],
  args: { min: 2, max: 2 },
  async action(ctx, parsed): Promise<number> {
    const [a, b] = parsed.positionals.map(split);
    if (a.container && b.container) {
      throw new CliError("copying between containers is not supported");
    }
    if (!a.container && !b.container) {
      throw new CliError("must specify at least one container source");
    }
    if (a.path === "-" || b.path === "-") {
      throw new CliError('copying tar streams ("-") is not supported by docker-ts yet');
    }
    const engine = await ctx.engine();
    if (a.container) {
      const src = a.path.startsWith("/") ? a.path : `/${a.path}`;
      await need(engine, "copyFrom")(a.container, src, b.path);
    } else {
      const dest = b.path.startsWith("/") ? b.path : `/${b.path}`;
      await need(engine, "copyTo")(b.container!, a.path, dest);
    }
    return 0;
  },
};
