/**
 * The shape of a verb and the code every verb shares: flag parsing with docker's error texts,
 * `--help`, argument-count checks, and error reporting with docker's exit codes.
 *
 * @module
 */
import { type FlagSpec, formatFlagUsages, type ParsedArgs, parseFlags } from "./flags.ts";
import { FlagError } from "./flags.ts";
import type { CliContext } from "./context.ts";
import { CliError, debugText, errorLine, exitCodeFor } from "./cli_error.ts";

/** The program name used in every message. */
export const PROG = "docker-ts";

/** How many positionals a verb takes. */
export interface ArgCount {
  min?: number;
  max?: number;
}

/** A verb: its help text, flags and action. */
export interface Command {
  /** Name as typed (`run`, `image ls`). */
  name: string;
  /** Usage after the name: `[OPTIONS] IMAGE [COMMAND] [ARG...]`. */
  usage: string;
  /** One-line description. */
  description: string;
  /** Other spellings shown under `Aliases:` (full commands, e.g. `docker-ts container run`). */
  aliases?: string[];
  /** Flags (without `--help`, which every verb gets). */
  flags: FlagSpec[];
  /** False for verbs whose positionals carry their own flags (`run`, `create`). */
  interspersed?: boolean;
  /** Positional count rule. */
  args?: ArgCount;
  /** Exit code when the engine (or anything but the CLI itself) fails: 125 for run/create. */
  engineErrorCode?: number;
  /** Does the work; returns the exit code. */
  action(ctx: CliContext, parsed: ParsedArgs): Promise<number>;
}

/** The full help text of a verb. */
export function helpText(cmd: Command): string {
  let text = `Usage:  ${PROG} ${cmd.name} ${cmd.usage}\n\n${cmd.description}\n`;
  if (cmd.aliases && cmd.aliases.length > 0) {
    text += `\nAliases:\n  ${cmd.aliases.join(", ")}\n`;
  }
  text += `\nOptions:\n${formatFlagUsages(withHelp(cmd.flags))}\n`;
  return text;
}

function withHelp(flags: FlagSpec[]): FlagSpec[] {
  const shortTaken = flags.some((f) => f.short === "h");
  return [
    ...flags,
    {
      name: "help",
      short: shortTaken ? undefined : "h",
      kind: "bool",
      description: "",
      hidden: true,
    },
  ];
}

function usageLine(cmd: Command): string {
  return `Usage:  ${PROG} ${cmd.name} ${cmd.usage}`;
}

function argCountError(cmd: Command, n: number): string | undefined {
  const { min, max } = cmd.args ?? {};
  const plural = (k: number): string => (k === 1 ? "argument" : "arguments");
  if (min !== undefined && max !== undefined && min === max && n !== min) {
    return `'${PROG} ${cmd.name}' requires ${min} ${plural(min)}`;
  }
  if (min !== undefined && n < min) {
    return `'${PROG} ${cmd.name}' requires at least ${min} ${plural(min)}`;
  }
  if (max !== undefined && n > max) {
    return max === 0
      ? `'${PROG} ${cmd.name}' accepts no arguments`
      : `'${PROG} ${cmd.name}' requires at most ${max} ${plural(max)}`;
  }
  return undefined;
}

/**
 * Parses `args` for `cmd` and runs it, printing errors the way docker does. Returns the exit
 * code; never throws.
 */
export async function runCommand(cmd: Command, ctx: CliContext, args: string[]): Promise<number> {
  let parsed: ParsedArgs;
  try {
    parsed = parseFlags(args, withHelp(cmd.flags), { interspersed: cmd.interspersed ?? true });
  } catch (err) {
    if (!(err instanceof FlagError)) throw err;
    // docker: the pflag message, the usage line, a pointer to --help; exit 125.
    ctx.io.writeErr(
      `${err.message}\n\n${
        usageLine(cmd)
      }\n\nRun '${PROG} ${cmd.name} --help' for more information\n`,
    );
    return 125;
  }
  if (parsed.values.help === true) {
    ctx.io.writeOut(helpText(cmd));
    return 0;
  }
  const countError = argCountError(cmd, parsed.positionals.length);
  if (countError) {
    ctx.io.writeErr(
      `${PROG}: ${countError}\n\n${
        usageLine(cmd)
      }\n\nSee '${PROG} ${cmd.name} --help' for more information\n`,
    );
    return 1;
  }
  try {
    return await cmd.action(ctx, parsed);
  } catch (err) {
    reportError(ctx, err);
    return exitCodeFor(err, cmd.engineErrorCode ?? 1);
  }
}

/** Prints `docker-ts: <one line>` (plus the stack under `-D`). */
export function reportError(ctx: CliContext, err: unknown): void {
  ctx.io.writeErr(`${PROG}: ${errorLine(err)}\n`);
  if (ctx.debug) ctx.io.writeErr(debugText(err) + "\n");
}

/** Throws the CLI's own usage error (exit 1 unless given). */
export function usageError(message: string, exitCode = 1): never {
  throw new CliError(message, exitCode);
}

/** Typed accessors for parsed flag values. */
export function str(p: ParsedArgs, name: string): string {
  return String(p.values[name] ?? "");
}
/** The list value of a flag. */
export function list(p: ParsedArgs, name: string): string[] {
  const v = p.values[name];
  return Array.isArray(v) ? v : [];
}
/** The boolean value of a flag. */
export function bool(p: ParsedArgs, name: string): boolean {
  return p.values[name] === true;
}
/** The numeric value of a flag. */
export function num(p: ParsedArgs, name: string): number {
  return Number(p.values[name] ?? 0);
}
/** The value of a flag given on the command line, else undefined. */
export function given<T extends string | number | boolean | string[]>(
  p: ParsedArgs,
  name: string,
): T | undefined {
  return p.changed.has(name) ? (p.values[name] as T) : undefined;
}
