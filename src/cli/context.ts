/**
 * What a verb gets to work with: the roots, the engine (created on first use, so `--help` and
 * flag errors never load it), and the process's stdio behind a small seam that tests replace.
 *
 * @module
 */
import type { EngineApi } from "../engine_api.ts";

/** The process's standard streams as the CLI uses them. */
export interface CliIo {
  /** Writes text or bytes to standard output, completely, before returning. */
  writeOut(data: string | Uint8Array): void;
  /** Writes text or bytes to standard error, completely, before returning. */
  writeErr(data: string | Uint8Array): void;
  /** Standard input as a stream (locked on first use). */
  stdin(): ReadableStream<Uint8Array>;
  /** Standard output as a stream that never closes the underlying descriptor. */
  stdoutStream(): WritableStream<Uint8Array>;
  /** Standard error as a stream that never closes the underlying descriptor. */
  stderrStream(): WritableStream<Uint8Array>;
  /** Whether standard input is a terminal. */
  stdinIsTerminal(): boolean;
  /** Whether standard output is a terminal. */
  stdoutIsTerminal(): boolean;
}

/** Everything a verb needs. */
export interface CliContext {
  /** Persistent root (`--root`). */
  root: string;
  /** Runtime root (`--runroot`). */
  runroot: string;
  /** `-D/--debug`: print stacks with errors. */
  debug: boolean;
  /** Standard streams. */
  io: CliIo;
  /** Environment lookups (injectable for tests). */
  env(name: string): string | undefined;
  /** The engine, created on first call. */
  engine(): Promise<EngineApi>;
}

const encoder = new TextEncoder();

function writeAllSync(file: { writeSync(p: Uint8Array): number }, data: string | Uint8Array): void {
  let bytes = typeof data === "string" ? encoder.encode(data) : data;
  while (bytes.length > 0) {
    const n = file.writeSync(bytes);
    bytes = bytes.subarray(n);
  }
}

function nonClosingStream(
  file: { write(p: Uint8Array): Promise<number> },
): WritableStream<Uint8Array> {
  return new WritableStream<Uint8Array>({
    async write(chunk): Promise<void> {
      let rest = chunk;
      while (rest.length > 0) rest = rest.subarray(await file.write(rest));
    },
  });
}

/** The real process stdio. */
export function processIo(): CliIo {
  return {
    writeOut: (data) => writeAllSync(Deno.stdout, data),
    writeErr: (data) => writeAllSync(Deno.stderr, data),
    stdin: () => Deno.stdin.readable,
    stdoutStream: () => nonClosingStream(Deno.stdout),
    stderrStream: () => nonClosingStream(Deno.stderr),
    stdinIsTerminal: () => Deno.stdin.isTerminal(),
    stdoutIsTerminal: () => Deno.stdout.isTerminal(),
  };
}

/** Creates the in-process engine; its module is imported only when a verb needs it. */
export async function createLocalEngine(root: string, runroot: string): Promise<EngineApi> {
  // Loaded on demand so `--help`, flag errors and `version` never pay for the engine's imports.
  const { Engine } = await import("../engine.ts");
  // DOCKER_TS_DEFAULT_NETWORK=none is dockerd's `--bridge=none` (no default bridge on the host).
  const defaultNetwork = Deno.env.get("DOCKER_TS_DEFAULT_NETWORK") || undefined;
  return new Engine({ root, runroot, defaultNetwork });
}
