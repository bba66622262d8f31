/**
 * Docker's sig-proxy: signals the CLI receives are sent on to the container's process.
 *
 * Docker proxies only without `-t`; with `-t` the caller's terminal is raw and ^C reaches the
 * container through the pty as a byte. With a pty, SIGWINCH is not forwarded but turned into a
 * resize of the pty (the kernel then signals the container's foreground group itself).
 *
 * @module
 */
import { kill, SIGNALS } from "../../ffi/wait.ts";
import { SyscallError } from "../../ffi/syscall_error.ts";
import type { Pty } from "./pty.ts";

/** Signals forwarded by default (Docker forwards all it can catch except CHLD, PIPE and URG). */
export const DEFAULT_FORWARDED_SIGNALS: readonly Deno.Signal[] = [
  "SIGHUP",
  "SIGINT",
  "SIGQUIT",
  "SIGUSR1",
  "SIGUSR2",
  "SIGTERM",
  "SIGALRM",
  "SIGWINCH",
];

/** Options for {@link forwardSignals}. */
export interface SignalForwardOptions {
  /** Signals to forward (default {@link DEFAULT_FORWARDED_SIGNALS}). */
  signals?: readonly Deno.Signal[];
  /** With a tty: SIGWINCH resizes this pty to the caller's terminal size instead. */
  pty?: Pty;
  /** The caller's terminal size (default: `Deno.consoleSize()`), for the SIGWINCH resize. */
  size?: () => { rows: number; cols: number } | undefined;
  /** Called when forwarding fails for another reason than the process being gone. */
  onError?: (err: unknown) => void;
}

/** Stops forwarding when disposed. */
export interface SignalForwarder extends Disposable {
  /** Removes every listener this forwarder added. Idempotent. */
  dispose(): void;
}

const active = new Map<Deno.Signal, number>();

/**
 * Whether some forwarder currently handles `signal`. The terminal's raw-mode guard uses it to
 * leave such signals to the forwarder (the container exits, then the CLI restores normally).
 */
export function isForwarding(signal: Deno.Signal): boolean {
  return (active.get(signal) ?? 0) > 0;
}

function callerSize(): { rows: number; cols: number } | undefined {
  try {
    const { rows, columns } = Deno.consoleSize();
    return { rows, cols: columns };
  } catch {
    return undefined; // no terminal on stdin/stdout/stderr
  }
}

/** Forwards the listed signals to `pid` until disposed. */
export function forwardSignals(pid: number, options: SignalForwardOptions = {}): SignalForwarder {
  const signals = options.signals ?? DEFAULT_FORWARDED_SIGNALS;
  const size = options.size ?? callerSize;
  const listeners: Array<[Deno.Signal, () => void]> = [];
  const report = (err: unknown): void => {
    // The container exiting races with a signal: ESRCH just means there is nobody to tell.
    if (err instanceof SyscallError && err.code === "ESRCH") return;
    options.onError?.(err);
  };
  for (const signal of signals) {
    const signo = SIGNALS[signal];
    if (signo === undefined) continue;
    let listener: () => void;
    if (signal === "SIGWINCH" && options.pty) {
      const pty = options.pty;
      listener = () => {
        const s = size();
        if (!s) return;
        try {
          pty.resize(s.rows, s.cols);
        } catch (err) {
          report(err);
        }
      };
    } else {
      listener = () => {
        try {
          kill(pid, signo);
        } catch (err) {
          report(err);
        }
      };
    }
    Deno.addSignalListener(signal, listener);
    listeners.push([signal, listener]);
    active.set(signal, (active.get(signal) ?? 0) + 1);
  }
  let disposed = false;
  const dispose = (): void => {
    if (disposed) return;
    disposed = true;
    for (const [signal, listener] of listeners) {
      Deno.removeSignalListener(signal, listener);
      const n = (active.get(signal) ?? 1) - 1;
      if (n > 0) active.set(signal, n);
      else active.delete(signal);
    }
  };
  return { dispose, [Symbol.dispose]: dispose };
}
