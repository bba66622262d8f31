/**
 * `docker-ts exec`: run a command in a running container and exit with its code.
 *
 * @module
 */
import type { Command } from "../command.ts";
import { bool, list, PROG, str } from "../command.ts";
import { CliError } from "../cli_error.ts";
import { need } from "../container_verbs.ts";
import { attachTerminal } from "../attach.ts";

/** The `exec` verb. */
export const command: Command = {
  name: "exec",
  usage: "[OPTIONS] CONTAINER COMMAND [ARG...]",
  description: "Execute a command in a running container",
  aliases: [`${PROG} container exec`, `${PROG} exec`],
  flags: [
    {
      name: "detach",
      short: "d",
      kind: "bool",
      description: "Detached mode: run command in the background",
    },
    {
      name: "detach-keys",
      kind: "string",
      description: "Override the key sequence for detaching a container",
      hidden: true,
    },
    { name: "env", short: "e", kind: "list", description: "Set environment variables" },
    {
      name: "interactive",
      short: "i",
      kind: "bool",
      description: "Keep STDIN open even if not attached",
    },
    { name: "privileged", kind: "bool", description: "Give extended privileges to the command" },
    { name: "tty", short: "t", kind: "bool", description: "Allocate a pseudo-TTY" },
    {
      name: "user",
      short: "u",
      kind: "string",
      description: 'Username or UID (format: "<name|uid>[:<group|gid>]")',
    },
    {
      name: "workdir",
      short: "w",
      kind: "string",
      description: "Working directory inside the container",
    },
  ],
  interspersed: false,
  args: { min: 2 },
  // Engine errors (no such container, not running) exit 1 as docker's; a command that cannot
  // run carries its own 126/127 (ContainerExecError).
  async action(ctx, parsed): Promise<number> {
    const engine = await ctx.engine();
    const [id, ...cmd] = parsed.positionals;
    const tty = bool(parsed, "tty");
    const interactive = bool(parsed, "interactive");
    const detach = bool(parsed, "detach");
    if (tty && interactive && !detach && !ctx.io.stdinIsTerminal()) {
      throw new CliError("the input device is not a TTY");
    }
    const env = list(parsed, "env").map((e) => e.includes("=") ? e : `${e}=${ctx.env(e) ?? ""}`);
    const execId = await need(engine, "execCreate")(id, {
      cmd,
      env,
      user: str(parsed, "user") || undefined,
      workdir: str(parsed, "workdir") || undefined,
      tty,
      interactive,
      privileged: bool(parsed, "privileged"),
    });
    if (detach) {
      await need(engine, "execStart")(execId, { detach: true });
      return 0;
    }
    const attachment = await attachTerminal(ctx, engine, {
      tty,
      interactive,
      sigProxy: false,
      // The exec's own pty, not the container's.
      resize: (size) => need(engine, "execResize")(execId, size),
    });
    try {
      await need(engine, "execStart")(execId, { ...attachment.streams, signal: attachment.signal });
    } finally {
      attachment.close();
    }
    const info = await need(engine, "execInspect")(execId);
    return info.ExitCode ?? 0;
  },
};
