/**
 * What a verb gets to work with: the roots, the engine (created on first use, so `--help` and
 * flag errors never load it), and the process's stdio behind a small seam that tests replace.
 *
 * @module
 */
import { lazyImport } from "../util/lazy_import.ts";
import type { EngineApi } from "../engine_api.ts";
import { InvalidArgumentError } from "../errors.ts";
import { DEFAULT_RUNROOT } from "../paths.ts";
import { joinPath } from "../util/path.ts";
import { type OutputSink, toWritable } from "../util/output_sink.ts";

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
  /**
   * Standard output / error for container output, as a writer when the process's own: cheaper
   * to start than a stream (see util/output_sink.ts). Absent: the streams above are used.
   */
  stdoutSink?(): OutputSink;
  stderrSink?(): OutputSink;
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
  /** `-H/--host` as given (a `unix://` address), if any. */
  host?: string;
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

/** The real process stdio. */
export function processIo(): CliIo {
  return {
    writeOut: (data) => writeAllSync(Deno.stdout, data),
    writeErr: (data) => writeAllSync(Deno.stderr, data),
    stdin: () => Deno.stdin.readable,
    // toWritable wraps without ever closing the descriptor.
    stdoutStream: () => toWritable(Deno.stdout),
    stderrStream: () => toWritable(Deno.stderr),
    stdoutSink: () => Deno.stdout,
    stderrSink: () => Deno.stderr,
    stdinIsTerminal: () => Deno.stdin.isTerminal(),
    stdoutIsTerminal: () => Deno.stdout.isTerminal(),
  };
}

/** Creates the in-process engine; its module is imported only when a verb needs it. */
export async function createLocalEngine(root: string, runroot: string): Promise<EngineApi> {
  // Loaded on demand so `--help`, flag errors and `version` never pay for the engine's imports.
  const { Engine } = await lazyImport<typeof import("../engine.ts")>(
    new URL("../engine.ts", import.meta.url),
  );
  // DOCKER_TS_DEFAULT_NETWORK=none is dockerd's `--bridge=none` (no default bridge on the host).
  const defaultNetwork = Deno.env.get("DOCKER_TS_DEFAULT_NETWORK") || undefined;
  return new Engine({ root, runroot, defaultNetwork });
}

/** The socket a CLI looks for a daemon on when no host is given: `<runroot>/docker-ts.sock`. */
export function defaultSocket(runroot: string): string {
  return joinPath(runroot || DEFAULT_RUNROOT, "docker-ts.sock");
}

/**
 * A `unix://PATH` daemon address (or a bare absolute path) → the socket path.
 *
 * @example
 * ```ts
 * import { socketOfHost } from "./context.ts";
 * console.assert(socketOfHost("unix:///run/x.sock") === "/run/x.sock");
 * ```
 */
export function socketOfHost(host: string): string {
  const p = host.startsWith("unix://") ? host.slice("unix://".length) : host;
  if (!p.startsWith("/")) {
    throw new InvalidArgumentError(
      `Invalid daemon host "${host}": only unix:// sockets with an absolute path are supported`,
    );
  }
  return p;
}

/** Options of {@link createCliEngine}. */
export interface EngineChoice {
  root: string;
  runroot: string;
  /** `-H/--host`; else `DOCKER_TS_HOST`; else the default socket under the runroot. */
  host?: string;
  env(name: string): string | undefined;
  /** The verb as dispatched (`run`, `container run`, `start`, …) and its arguments. */
  verb: string;
  args: readonly string[];
}

/**
 * Whether the command's containers must outlive the CLI (`run -d`, `start`, `restart`): then,
 * with no daemon running, the CLI starts one rather than run them in-process.
 */
export async function mustOutliveCli(verb: string, args: readonly string[]): Promise<boolean> {
  const v = verb.replace(/^container /, "");
  if (v === "start" || v === "restart") return true;
  if (v !== "run") return false;
  const [{ parseFlags }, { CREATE_FLAGS, RUN_ONLY_FLAGS }, { SUPERVISION_FLAGS }] = await Promise
    .all([
      lazyImport<typeof import("./flags.ts")>(new URL("./flags.ts", import.meta.url)),
      lazyImport<typeof import("./run_flags.ts")>(new URL("./run_flags.ts", import.meta.url)),
      lazyImport<typeof import("./supervision_flags.ts")>(
        new URL("./supervision_flags.ts", import.meta.url),
      ),
    ]);
  try {
    const parsed = parseFlags(
      [...args],
      [...CREATE_FLAGS, ...RUN_ONLY_FLAGS, ...SUPERVISION_FLAGS],
      {
        interspersed: false,
      },
    );
    return parsed.values.detach === true;
  } catch {
    return false; // the verb reports the flag error itself
  }
}

/**
 * The daemon this CLI would talk to, as a client, or null when none answers (`-H` or
 * `DOCKER_TS_HOST` name one explicitly: that one is returned whether it answers or not).
 */
export async function daemonClient(
  o: Pick<EngineChoice, "host" | "env" | "runroot">,
): Promise<import("../api/client.ts").Client | null> {
  const explicit = o.host || o.env("DOCKER_TS_HOST");
  const { Client } = await lazyImport<typeof import("../api/client.ts")>(
    new URL("../api/client.ts", import.meta.url),
  );
  if (explicit) return new Client({ socket: socketOfHost(explicit) });
  const socket = defaultSocket(o.runroot);
  const { daemonAnswers } = await lazyImport<typeof import("./daemon_autostart.ts")>(
    new URL("./daemon_autostart.ts", import.meta.url),
  );
  return await daemonAnswers(socket) ? new Client({ socket }) : null;
}

/**
 * Chooses what the verbs talk to: the daemon's API client when a host is given or a daemon
 * answers on the default socket; otherwise the in-process engine — except for commands that
 * must outlive the CLI, which start a daemon (detached, idle-exiting) and go through it.
 * `DOCKER_TS_AUTOSTART=0` keeps those in-process too.
 */
export async function createCliEngine(o: EngineChoice): Promise<EngineApi> {
  const client = await daemonClient(o);
  if (client) return client;
  if (o.env("DOCKER_TS_AUTOSTART") !== "0" && await mustOutliveCli(o.verb, o.args)) {
    // Both modules are loaded already (by daemonClient): these imports only look them up.
    const [{ Client }, { autostartDaemon }] = await Promise.all([
      lazyImport<typeof import("../api/client.ts")>(new URL("../api/client.ts", import.meta.url)),
      lazyImport<typeof import("./daemon_autostart.ts")>(
        new URL("./daemon_autostart.ts", import.meta.url),
      ),
    ]);
    const socket = defaultSocket(o.runroot);
    await autostartDaemon({
      socket,
      root: o.root,
      runroot: o.runroot,
      idleExit: o.env("DOCKER_TS_DAEMON_IDLE_EXIT") || undefined,
    });
    return new Client({ socket });
  }
  return await createLocalEngine(o.root, o.runroot);
}
