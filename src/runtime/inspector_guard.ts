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

/** Arms the guard once per process; the timer never keeps the process alive. */
export function guardInspectorSignal(): void {
  if (armed || Deno.build.os !== "linux") return;
  armed = true;
  const sinceStart = performance.now();
  const id = setTimeout(() => ignoreSignal(SIGUSR1), Math.max(0, AFTER_MS - sinceStart));
  Deno.unrefTimer(id);
}
