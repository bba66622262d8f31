/**
 * Deno ≥ 2.9.2 starts its V8 inspector on 127.0.0.1:9229 when the process receives SIGUSR1
 * more than 500 ms after start (Node's convention), with no opt-out flag. For a root process
 * that is an unauthenticated debugger any local user could connect to. Once Deno has installed
 * its handler, docker-ts sets SIGUSR1 to SIG_IGN: the signal then neither opens the inspector nor
 * reaches our own listeners, so `run` cannot forward SIGUSR1 (the one signal it does not proxy).
 *
 * @module
 */
import { ignoreSignal } from "../../ffi/wait.ts";

const SIGUSR1 = 10;
/** Deno installs its SIGUSR1 handler 500 ms after start; act after it, never before. */
const AFTER_MS = 600;

let armed = false;

/**
 * Arms the guard once per process; the wait never keeps the process alive.
 *
 * The delay is an `Atomics.waitAsync` timeout, not `setTimeout`: in Deno 2.9 a process's first
 * timer costs ~5 ms (measured: 5.3 ms for setTimeout + clearTimeout, 0.05 ms for this), a tenth
 * of a `docker-ts run` through a daemon. It fires on time while the process waits on I/O and
 * does not hold the event loop open.
 */
export function guardInspectorSignal(): void {
  if (armed || Deno.build.os !== "linux") return;
  armed = true;
  const delay = Math.max(0, AFTER_MS - performance.now());
  const waitAsync = (Atomics as unknown as {
    waitAsync?: (
      a: Int32Array,
      i: number,
      v: number,
      t: number,
    ) => { async: boolean; value: Promise<string> | string };
  }).waitAsync;
  if (typeof waitAsync === "function") {
    const r = waitAsync(new Int32Array(new SharedArrayBuffer(4)), 0, 0, delay);
    if (r.async) {
      (r.value as Promise<string>).then(() => ignoreSignal(SIGUSR1));
      return;
    }
  }
  const id = setTimeout(() => ignoreSignal(SIGUSR1), delay);
  Deno.unrefTimer(id);
}
