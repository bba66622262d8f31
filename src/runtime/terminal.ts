/**
 * The caller's terminal for `run -t`: raw mode restored on every exit path, its window size, and
 * SIGWINCH turned into pty resizes.
 *
 * Restoration uses the exact termios saved before (tcgetattr/tcsetattr), not a guess at "cooked"
 * mode, and is hooked to: the caller's try/finally (`restore()` / `using`), `unload` (normal end
 * and `Deno.exit`), uncaught `error` and `unhandledrejection`, and the terminating signals that
 * no forwarder handles (restore, then exit 128+N as the default action would). Only SIGKILL
 * escapes.
 *
 * @module
 */
import { makeRaw, tcgetattr, TCSAFLUSH, TCSANOW, tcsetattr, type Termios } from "../../ffi/pty.ts";
import { SIGNALS } from "../../ffi/wait.ts";
import { InvalidArgumentError } from "../errors.ts";
import type { Pty } from "./pty.ts";
import { isForwarding } from "./signal_forward.ts";

/** Docker's message for `-it` when stdin is not a terminal. */
export const NOT_A_TTY_MESSAGE = "the input device is not a TTY";

/** Whether the caller's stdin is a terminal. */
export function isTerminal(): boolean {
  try {
    return Deno.stdin.isTerminal();
  } catch {
    return false;
  }
}

/** Throws Docker's "the input device is not a TTY" (InvalidArgument) when stdin is no terminal. */
export function requireTerminal(): void {
  if (!isTerminal()) throw new InvalidArgumentError(NOT_A_TTY_MESSAGE);
}

/** The caller's terminal size, or undefined without a terminal. */
export function terminalSize(): { rows: number; cols: number } | undefined {
  try {
    const { rows, columns } = Deno.consoleSize();
    return { rows, cols: columns };
  } catch {
    return undefined;
  }
}

/** Options for {@link enterRawMode}. */
export interface RawModeOptions {
  /** Terminal fd (default 0, the caller's stdin). */
  fd?: number;
  /**
   * Signals after which the terminal is restored and the process exits with 128+N, unless a
   * signal forwarder handles them (default SIGHUP, SIGINT, SIGQUIT, SIGTERM).
   */
  exitSignals?: readonly Deno.Signal[];
}

/** A terminal in raw mode; `restore()` (or `using`) puts it back. */
export interface RawMode extends Disposable {
  /** Restores the saved attributes and removes every hook. Idempotent. */
  restore(): void;
  /** Whether the terminal is still in raw mode. */
  readonly active: boolean;
}

/**
 * Puts the terminal in raw mode (cfmakeraw) and arranges its restoration on every exit path.
 * Throws InvalidArgumentError "the input device is not a TTY" when `fd` is not a terminal.
 */
export function enterRawMode(options: RawModeOptions = {}): RawMode {
  const fd = options.fd ?? 0;
  let saved: Termios;
  try {
    saved = tcgetattr(fd);
  } catch (err) {
    throw new InvalidArgumentError(NOT_A_TTY_MESSAGE, { cause: err });
  }
  let active = true;
  const signalHooks: Array<[Deno.Signal, () => void]> = [];

  const onExit = (): void => restore();
  const restore = (): void => {
    if (!active) return;
    active = false;
    try {
      // TCSAFLUSH: let pending output reach the screen before the line discipline changes.
      tcsetattr(fd, saved, TCSAFLUSH);
    } catch {
      // The terminal may be gone (hang-up); nothing left to restore.
    }
    globalThis.removeEventListener("unload", onExit);
    globalThis.removeEventListener("error", onExit);
    globalThis.removeEventListener("unhandledrejection", onExit);
    for (const [signal, listener] of signalHooks) {
      try {
        Deno.removeSignalListener(signal, listener);
      } catch {
        // Already removed.
      }
    }
  };

  globalThis.addEventListener("unload", onExit);
  globalThis.addEventListener("error", onExit);
  globalThis.addEventListener("unhandledrejection", onExit);
  for (const signal of options.exitSignals ?? ["SIGHUP", "SIGINT", "SIGQUIT", "SIGTERM"]) {
    const signo = SIGNALS[signal];
    const listener = (): void => {
      if (isForwarding(signal)) return; // the container gets it; the CLI ends normally
      restore();
      Deno.exit(128 + signo);
    };
    Deno.addSignalListener(signal, listener);
    signalHooks.push([signal, listener]);
  }

  try {
    // TCSANOW, not TCSAFLUSH: keys typed before the container's shell is up are input for it
    // (docker's terminal code does the same), not something to discard.
    tcsetattr(fd, makeRaw(saved), TCSANOW);
  } catch (err) {
    restore();
    throw err;
  }
  return {
    restore,
    get active(): boolean {
      return active;
    },
    [Symbol.dispose]: restore,
  };
}

/**
 * Keeps `pty` sized like the caller's terminal: sets it now and on every SIGWINCH, until
 * disposed. Use it with `-t` (where signals are not proxied); without a terminal it only
 * listens.
 */
export function forwardResize(
  pty: Pty,
  size: () => { rows: number; cols: number } | undefined = terminalSize,
): Disposable & { dispose(): void } {
  const apply = (): void => {
    const s = size();
    if (!s) return;
    try {
      pty.resize(s.rows, s.cols);
    } catch {
      // The pty closed with the container; the listener is about to be disposed.
    }
  };
  apply();
  Deno.addSignalListener("SIGWINCH", apply);
  let disposed = false;
  const dispose = (): void => {
    if (disposed) return;
    disposed = true;
    Deno.removeSignalListener("SIGWINCH", apply);
  };
  return { dispose, [Symbol.dispose]: dispose };
}
