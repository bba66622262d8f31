/**
 * `docker-ts attach`: connect the terminal to a running container — its stdin (a detached `-i`
 * container), its output from now on, a raw terminal session with `-t` — and exit with its
 * code. The detach keys (Ctrl-P Ctrl-Q, `--detach-keys`) leave it running.
 *
 * An engine without `attach` (or a container nobody holds the stdin of, e.g. adopted after a
 * daemon restart) still shows the output, from the container's log.
 *
 * @module
 */
import type { Command } from "../command.ts";
import { bool, PROG } from "../command.ts";
import { need } from "../container_verbs.ts";
import { CliError } from "../cli_error.ts";
import { attachTerminal } from "../attach.ts";
import type { ContainerAttachApi } from "../../container/attach_hub.ts";
import type { EngineApi } from "../../engine_api.ts";
import type { CliContext } from "../context.ts";

/** What docker's CLI prints when the detach keys end an attachment. */
export const DETACH_MESSAGE = "read escape sequence";

/** `docker attach`'s exit status after a detach (docker CLI 28: the escape is an error). */
export const DETACH_EXIT_CODE = 1;

/** The `attach` verb. */
export const command: Command = {
  name: "attach",
  usage: "[OPTIONS] CONTAINER",
  description: "Attach local standard input, output, and error streams to a running container",
  aliases: [`${PROG} container attach`, `${PROG} attach`],
  flags: [
    {
      name: "detach-keys",
      kind: "string",
      description: "Override the key sequence for detaching a container",
    },
    { name: "no-stdin", kind: "bool", description: "Do not attach STDIN" },
    {
      name: "sig-proxy",
      kind: "bool",
      description: "Proxy all received signals to the process",
      default: true,
    },
  ],
  args: { min: 1, max: 1 },
  async action(ctx, parsed): Promise<number> {
    const engine = await ctx.engine();
    const info = await engine.inspect(parsed.positionals[0]);
    if (info.State.Paused) {
      throw new CliError("You cannot attach to a paused container, unpause it first");
    }
    if (!info.State.Running) {
      throw new CliError("You cannot attach to a stopped container, start it first");
    }
    const tty = info.Config.Tty === true;
    const withStdin = !bool(parsed, "no-stdin") && info.Config.OpenStdin === true;
    // docker's CheckTty: a tty session needs a terminal as input.
    if (tty && withStdin && !ctx.io.stdinIsTerminal()) {
      throw new CliError("the input device is not a TTY");
    }
    const detachKeys = typeof parsed.values["detach-keys"] === "string"
      ? parsed.values["detach-keys"] as string
      : undefined;
    const attach = (engine as Partial<ContainerAttachApi>).attach;
    if (typeof attach !== "function") return await followOnly(ctx, engine, info.Id);

    // Docker proxies signals only without a tty (with one, ^C is a byte for the pty).
    const attachment = await attachTerminal(ctx, engine, {
      tty,
      interactive: withStdin,
      sigProxy: parsed.values["sig-proxy"] !== false && !tty,
    });
    let outcome: string;
    try {
      attachment.setContainer(info.Id);
      const size = attachment.streams.consoleSize;
      // As docker, once attached: one step bigger, then the real size, so the shell redraws
      // its prompt (SIGWINCH) even when the size did not change since the last attachment.
      const redraw = async (): Promise<void> => {
        if (!tty || !size) return;
        await engine.resize(info.Id, { rows: size.rows + 1, cols: size.cols + 1 }).catch(() => {});
        await engine.resize(info.Id, size).catch(() => {});
      };
      outcome = await attach.call(engine, info.Id, {
        stdin: attachment.streams.stdin ?? null,
        stdout: attachment.streams.stdout,
        stderr: attachment.streams.stderr,
        detachKeys,
        onAttached: () => void redraw(),
      });
    } finally {
      attachment.close();
    }
    if (outcome === "detached") {
      // The terminal is restored first, so the message starts on a clean line. Docker's CLI
      // (28, measured) reports the detach as this error and exits 1; the container runs on.
      ctx.io.writeErr(`${DETACH_MESSAGE}\n`);
      return DETACH_EXIT_CODE;
    }
    return await engine.wait(info.Id);
  },
};

/** Output only, from the container's log, for engines without `attach`. */
async function followOnly(ctx: CliContext, engine: EngineApi, id: string): Promise<number> {
  for await (const e of need(engine, "logs")(id, { follow: true, tail: 0 })) {
    if (e.stream === "stderr") ctx.io.writeErr(e.data);
    else ctx.io.writeOut(e.data);
  }
  return await engine.wait(id);
}
