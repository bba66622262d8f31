/**
 * Wiring a foreground container to the CLI's terminal: stdio streams, raw mode for `-it`
 * (restored on every exit path), signal forwarding (docker's sig-proxy) and window-size
 * changes.
 *
 * @module
 */
import { lazyImport } from "../util/lazy_import.ts";
import type { ConsoleSize, EngineApi, StdioStreams } from "../engine_api.ts";
import type { CliContext } from "./context.ts";

/** Signals docker's CLI proxies to the container (those Deno lets a program listen to). */
export const PROXIED_SIGNALS: readonly Deno.Signal[] = [
  "SIGINT",
  "SIGTERM",
  "SIGHUP",
  "SIGQUIT",
  // Not SIGUSR1: the CLI ignores it so Deno never opens its inspector (runtime/inspector_guard).
  "SIGUSR2",
  "SIGALRM",
];

const SIGNAL_NUMBERS: Partial<Record<Deno.Signal, number>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGUSR1: 10,
  SIGUSR2: 12,
  SIGALRM: 14,
  SIGTERM: 15,
};

/** Options of {@link attachTerminal}. */
export interface AttachOptions {
  tty: boolean;
  interactive: boolean;
  /** Forward signals the CLI receives (`--sig-proxy`, default true). */
  sigProxy: boolean;
  /** Where window-size changes go (default: the container's pty, see `setContainer`). */
  resize?: (size: ConsoleSize) => Promise<void>;
}

/** A live attachment; `close()` undoes everything and is safe to call twice. */
export interface Attachment {
  /** Streams to hand to the engine. */
  streams: StdioStreams;
  /** Aborted when a signal arrives before the container exists (nothing to forward to yet). */
  signal: AbortSignal;
  /** The first signal received before the container existed, as 128+N, else undefined. */
  abortedExitCode(): number | undefined;
  /** Tells the attachment which container to forward signals and resizes to. */
  setContainer(id: string): void;
  /** Restores the terminal and removes signal listeners. */
  close(): void;
}

function terminalSize(): ConsoleSize | undefined {
  try {
    const { columns, rows } = Deno.consoleSize();
    return { rows, cols: columns };
  } catch {
    return undefined;
  }
}

/**
 * Sets up stdio, raw mode and signal forwarding for a foreground container. The caller must
 * call `close()` in a `finally`; the raw-mode helper also restores the terminal on `Deno.exit`,
 * uncaught errors and terminating signals.
 */
export async function attachTerminal(
  ctx: CliContext,
  engine: EngineApi,
  options: AttachOptions,
): Promise<Attachment> {
  const controller = new AbortController();
  let containerId: string | undefined;
  let abortedBy: number | undefined;
  let raw: { restore(): void } | undefined;
  const listeners: Array<[Deno.Signal, () => void]> = [];

  const streams: StdioStreams = {
    stdin: options.interactive ? ctx.io.stdin() : null,
    stdout: ctx.io.stdoutSink?.() ?? ctx.io.stdoutStream(),
    stderr: ctx.io.stderrSink?.() ?? ctx.io.stderrStream(),
  };
  if (options.tty) {
    const size = ctx.io.stdoutIsTerminal() ? terminalSize() : undefined;
    if (size) streams.consoleSize = size;
    if (options.interactive && ctx.io.stdinIsTerminal()) {
      // Raw mode so keys (including ^C) reach the container's pty untouched. The runtime's
      // helper restores the exact saved termios on every exit path (unload, errors, signals).
      // With sig-proxy the CLI forwards terminating signals itself, so the helper must not
      // exit on them.
      const { enterRawMode } = await lazyImport<typeof import("../runtime/terminal.ts")>(
        new URL("../runtime/terminal.ts", import.meta.url),
      );
      raw = enterRawMode({ exitSignals: options.sigProxy ? [] : undefined });
    }
  }

  const listen = (sig: Deno.Signal, fn: () => void): void => {
    try {
      Deno.addSignalListener(sig, fn);
      listeners.push([sig, fn]);
    } catch { /* not supported on this platform */ }
  };
  if (options.sigProxy) {
    for (const sig of PROXIED_SIGNALS) {
      listen(sig, () => {
        if (containerId === undefined) {
          // Nothing to forward to yet: abort the run (the engine cleans up) and exit 128+N.
          abortedBy ??= 128 + (SIGNAL_NUMBERS[sig] ?? 0);
          controller.abort(new Error(`Interrupted by ${sig}`));
          return;
        }
        engine.kill(containerId, sig).catch(() => {/* it may have exited meanwhile */});
      });
    }
  }
  if (options.tty && ctx.io.stdoutIsTerminal()) {
    listen("SIGWINCH", () => {
      const size = terminalSize();
      if (!size) return;
      if (options.resize) options.resize(size).catch(() => {/* exited meanwhile */});
      else if (containerId !== undefined) {
        engine.resize(containerId, size).catch(() => {/* exited meanwhile */});
      }
    });
  }

  return {
    streams,
    signal: controller.signal,
    abortedExitCode: () => abortedBy,
    setContainer: (id) => {
      containerId = id;
    },
    close: () => {
      for (const [sig, fn] of listeners.splice(0)) {
        try {
          Deno.removeSignalListener(sig, fn);
        } catch { /* already gone */ }
      }
      raw?.restore();
      raw = undefined;
    },
  };
}
