/**
 * `docker-ts pull`: download an image with docker's progress display.
 *
 * @module
 */
import type { Command } from "../command.ts";
import { bool, given, PROG } from "../command.ts";
import { pullWithProgress } from "../pull_progress.ts";
import type { EngineApi } from "../../engine_api.ts";
import { EXIT_ENGINE_ERROR } from "../../errors.ts";

/** Signals that cancel a pull, with the exit code a shell expects after them (128 + N). */
const CANCEL_SIGNALS: [Deno.Signal, number][] = [["SIGINT", 130], ["SIGTERM", 143]];

/**
 * The engine with its `pull` bound to `signal`. The progress renderer calls only `pull`; other
 * members pass through bound to the real engine (it keeps private state).
 */
function withSignal(engine: EngineApi, signal: AbortSignal): EngineApi {
  return new Proxy(engine, {
    get(target, prop): unknown {
      if (prop === "pull") {
        return (ref: string, options: Parameters<EngineApi["pull"]>[1] = {}) =>
          target.pull(ref, { ...options, signal });
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** The `pull` verb. */
export const command: Command = {
  name: "pull",
  usage: "[OPTIONS] NAME[:TAG|@DIGEST]",
  description: "Download an image from a registry",
  aliases: [`${PROG} image pull`, `${PROG} pull`],
  flags: [
    {
      name: "platform",
      kind: "string",
      description: "Set platform if server is multi-platform capable",
    },
    { name: "quiet", short: "q", kind: "bool", description: "Suppress verbose output" },
  ],
  args: { min: 1, max: 1 },
  // The issue asks 125 for a failed pull (docker's daemon errors print with exit 1).
  engineErrorCode: EXIT_ENGINE_ERROR,
  async action(ctx, parsed): Promise<number> {
    const engine = await ctx.engine();
    // Ctrl-C must not kill the process mid-write: abort the pull instead, so that it removes
    // its ingest files and half-unpacked layers before the CLI exits.
    const abort = new AbortController();
    let exitCode = 0;
    const listeners = CANCEL_SIGNALS.map(([sig, code]) => {
      const listener = (): void => {
        if (abort.signal.aborted) return;
        exitCode = code;
        abort.abort(new DOMException(`Pull canceled by ${sig}`, "AbortError"));
      };
      Deno.addSignalListener(sig, listener);
      return [sig, listener] as const;
    });
    try {
      await pullWithProgress(ctx, withSignal(engine, abort.signal), parsed.positionals[0], {
        platform: given<string>(parsed, "platform"),
        quiet: bool(parsed, "quiet"),
      });
      return 0;
    } catch (err) {
      if (abort.signal.aborted) return exitCode;
      throw err;
    } finally {
      for (const [sig, listener] of listeners) Deno.removeSignalListener(sig, listener);
    }
  },
};
