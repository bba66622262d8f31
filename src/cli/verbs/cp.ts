/**
 * `docker-ts cp`: copy files between a container (running or not) and the host, both
 * directions; `-` instead of the host path streams a tar archive: `CONTAINER:SRC -` writes one
 * to stdout, `- CONTAINER:DEST` extracts one from stdin into the existing directory DEST.
 * Symlinks inside the container resolve against the container's root.
 *
 * @module
 */
import type { Command } from "../command.ts";
import { bool, PROG } from "../command.ts";
import { CliError } from "../cli_error.ts";
import { need } from "../container_verbs.ts";
import type { EngineApi } from "../../engine_api.ts";
import { DockerTsError } from "../../errors.ts";

/** Go's `os.ModeDir` bit in a path stat's mode. */
const GO_MODE_DIR = 2 ** 31;

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
    const engine = await ctx.engine();
    if (a.container && b.path === "-") {
      let src = absolute(a.path);
      if (bool(parsed, "follow-link")) src = await followLink(engine, a.container, src);
      const { tar } = await need(engine, "archiveOut")(a.container, src);
      await tar.pipeTo(ctx.io.stdoutStream());
      return 0;
    }
    if (b.container && a.path === "-") {
      const dest = absolute(b.path);
      // Checked first, as docker's CLI does: the archive is only read for a directory.
      if (!(await isDirectory(engine, b.container, dest))) {
        throw new CliError(`destination "${b.container}:${b.path}" must be a directory`);
      }
      await need(engine, "archiveIn")(b.container, dest, ctx.io.stdin(), {
        copyUIDGID: bool(parsed, "archive"),
        // The docker CLI never lets an archive replace a directory by a file or back.
        noOverwriteDirNonDir: true,
      });
      return 0;
    }
    if (a.container) {
      // docker's CLI check: the host destination's parent must exist.
      const trimmed = b.path.length > 1 ? b.path.replace(/\/+$/, "") : b.path;
      const slash = trimmed.lastIndexOf("/");
      const parent = slash > 0 ? trimmed.slice(0, slash) : slash === 0 ? "/" : ".";
      if (!hostDirExists(parent)) {
        throw new CliError(`invalid output path: directory "${parent}" does not exist`);
      }
      await need(engine, "copyFrom")(a.container, absolute(a.path), b.path);
    } else {
      await need(engine, "copyTo")(b.container!, a.path, absolute(b.path));
    }
    return 0;
  },
};

/** Container paths are taken from the container's root, with or without the leading "/". */
function absolute(p: string): string {
  return p.startsWith("/") ? p : `/${p}`;
}

/** Whether `p` is a directory in the container, through a trailing symlink (docker's check). */
async function isDirectory(engine: EngineApi, container: string, p: string): Promise<boolean> {
  const statPath = need(engine, "statPath");
  try {
    let st = await statPath(container, p);
    if (st.linkTarget) st = await statPath(container, st.linkTarget);
    return st.mode >= GO_MODE_DIR;
  } catch (err) {
    // Like docker, a missing path (or container) is reported as "must be a directory".
    if (err instanceof DockerTsError && err.kind === "NotFound") return false;
    throw err;
  }
}

/** `-L`: a trailing symlink is replaced by its target (resolved inside the container). */
async function followLink(engine: EngineApi, container: string, p: string): Promise<string> {
  try {
    const st = await need(engine, "statPath")(container, p);
    return st.linkTarget || p;
  } catch {
    return p; // the archive request reports the missing path
  }
}

function hostDirExists(p: string): boolean {
  try {
    return Deno.statSync(p).isDirectory;
  } catch {
    return false;
  }
}
