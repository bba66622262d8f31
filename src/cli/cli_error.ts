/**
 * Turning anything thrown into one line for the user (never a stack trace unless `-D`), and
 * the exit code docker would give.
 *
 * @module
 */
import { DockerTsError } from "../errors.ts";
import { TemplateError } from "./template_error.ts";

/** An error the CLI raises itself, with the exit code to use and optional trailing usage text. */
export class CliError extends Error {
  /** Process exit code. */
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = "CliError";
    this.exitCode = exitCode;
  }
}

/** The one-line text for `err` (without the `docker-ts: ` prefix). */
export function errorLine(err: unknown): string {
  if (err instanceof Deno.errors.NotCapable) {
    // Deno's message already names the flag to add ("… run again with the --allow-read flag").
    return `Missing Deno permission: ${oneLine(err.message)}`;
  }
  if (err instanceof DockerTsError || err instanceof CliError || err instanceof TemplateError) {
    return withCauses(err);
  }
  if (err instanceof Error && err.name === "SyscallError") return withCauses(err);
  if (err instanceof Deno.errors.NotFound) {
    return `No such file or directory: ${oneLine(err.message)}`;
  }
  if (err instanceof Deno.errors.PermissionDenied) {
    return `Permission denied: ${oneLine(err.message)}`;
  }
  if (err instanceof Error) return withCauses(err);
  return oneLine(String(err));
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, " ").trim();
}

function withCauses(err: Error): string {
  let text = oneLine(err.message);
  let cause = err.cause;
  for (let depth = 0; cause instanceof Error && depth < 4; depth++) {
    const msg = oneLine(cause.message);
    if (msg && !text.includes(msg)) text += `: ${msg}`;
    cause = cause.cause;
  }
  return text;
}

/**
 * Exit code for an error a verb let escape: the CliError's own, else `engineCode` (125 for
 * `run`/`create`, 1 for other verbs, as docker does).
 */
export function exitCodeFor(err: unknown, engineCode: number): number {
  if (err instanceof CliError) return err.exitCode;
  // The container's command could not run: 126 (cannot execute) or 127 (not found), as docker.
  if (err instanceof DockerTsError && "exitCode" in err) {
    const code = (err as DockerTsError & { exitCode: unknown }).exitCode;
    // 1: the output could not be written (OutputWriteError), as docker's CLI.
    if (code === 126 || code === 127 || code === 1) return code;
  }
  return engineCode;
}

/** The stack text printed under `-D`. */
export function debugText(err: unknown): string {
  if (err instanceof Error && err.stack) {
    let text = err.stack;
    let cause = err.cause;
    for (let depth = 0; cause instanceof Error && depth < 4; depth++) {
      text += `\nCaused by: ${cause.stack ?? cause.message}`;
      cause = cause.cause;
    }
    return text;
  }
  return String(err);
}
