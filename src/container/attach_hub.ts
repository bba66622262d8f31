/**
 * Interactive attach to a running container (`run -dit` then `attach`): the engine keeps the
 * container's stdin (a pipe, or the pty master with `-t`) and, with a terminal, fans the pty's
 * output out to every attached client while the supervisor's pump also logs it.
 *
 * Why a hub: a detached container outlives every client. Its stdin must stay open between
 * attachments (docker's `OpenStdin` without `StdinOnce`), several clients may watch at once and
 * see the same bytes, and a slow or vanished client must never stall the container or the log.
 *
 * Without a terminal the output is not fanned out here: the kernel writes it to the raw log
 * files (so it survives the engine), and attachments follow those files.
 *
 * When the engine dies (`kill -9` of the daemon) there is no per-container shim to keep these
 * ends, so the container keeps a copy itself (ContainerState.kept, src/runtime/kept_fd.ts): its
 * terminal is not hung up and its stdin does not end; a pty's output waits in the pty. A
 * restarted daemon takes the end back and builds a new hub on it: `attach`, resize and the log
 * carry on. Only a StdinOnce stdin is not kept (its copy would hold back the EOF it needs).
 *
 * @module
 */
import type { LogStream } from "./logs.ts";
import { type OutputSink, type SinkWriter, sinkWriter } from "../util/output_sink.ts";
import {
  DEFAULT_DETACH_KEYS,
  DETACH_MESSAGE,
  DetachKeyScanner,
  parseDetachKeys,
} from "./detach_keys.ts";

export { DEFAULT_DETACH_KEYS, DETACH_MESSAGE, DetachKeyScanner, parseDetachKeys };

/** Bytes a client may lag behind the container before it is cut off (its writes queue). */
const MAX_CLIENT_BACKLOG = 8 * 1024 * 1024;

/** How long output still flows after a client's stdin ended, before its session ends. */
const STDIN_EOF_DRAIN_MS = 300;

/** Options of {@link AttachHub}. */
export interface AttachHubOptions {
  /** The container's stdin (pipe write end or pty master); absent without `-i`. */
  stdin?: WritableStream<Uint8Array>;
  /** Whether the container has a pty (output is one raw stream; stdin never closed by EOF). */
  tty: boolean;
  /** Docker's `StdinOnce`: the first attachment's end of input closes the container's stdin. */
  stdinOnce: boolean;
}

/** Where one attachment's output goes. */
export interface AttachOutput {
  stdout?: OutputSink | null;
  /** Never used with a tty (the pty merges both streams). */
  stderr?: OutputSink | null;
}

/** Options of an engine's `attach` (the in-process Engine and the API client alike). */
export interface ContainerAttachOptions extends AttachOutput {
  /** The client's input; absent or null: output only. */
  stdin?: ReadableStream<Uint8Array> | null;
  /** Docker's `--detach-keys` (default `ctrl-p,ctrl-q`). */
  detachKeys?: string;
  /** Aborting ends the attachment; the container keeps running. */
  signal?: AbortSignal;
  /**
   * Called once the output is connected: a resize made from here reaches the client as the
   * shell's redraw (docker's CLI resizes after attaching for that reason).
   */
  onAttached?: () => void;
}

/** An engine that can attach to running containers (`Engine`, `Client`). */
export interface ContainerAttachApi {
  /** Attaches to a running container; resolves with how the attachment ended. */
  attach(id: string, options?: ContainerAttachOptions): Promise<AttachOutcome>;
}

/** A client's subscription to the hub's output. */
export interface AttachSubscription {
  /** Resolves when the container's output ended ("ended") or the client failed ("gone"). */
  done: Promise<"ended" | "gone">;
  /** Unsubscribes; pending writes are abandoned. Idempotent. */
  close(): void;
}

interface Subscriber {
  writers: Partial<Record<LogStream, SinkWriter>>;
  chain: Promise<void>;
  backlog: number;
  finish(reason: "ended" | "gone"): void;
}

/** The engine's side of a detached interactive container: its stdin and its output fan-out. */
export class AttachHub {
  /** Whether the container has a pty. */
  readonly tty: boolean;
  /** Docker's `StdinOnce`. */
  readonly stdinOnce: boolean;
  #stdin?: WritableStreamDefaultWriter<Uint8Array>;
  #stdinChain: Promise<void> = Promise.resolve();
  readonly #subs = new Set<Subscriber>();
  #ended = false;

  /** Takes ownership of `options.stdin` (locks it; closed at {@link AttachHub.end}). */
  constructor(options: AttachHubOptions) {
    this.tty = options.tty;
    this.stdinOnce = options.stdinOnce;
    this.#stdin = options.stdin?.getWriter();
    // A write error (container closed its stdin) surfaces on the writes; never unhandled.
    this.#stdin?.closed.catch(() => {});
  }

  /** Whether the container's stdin is still open for attachments. */
  get hasStdin(): boolean {
    return this.#stdin !== undefined;
  }

  /** Whether the container's output has ended. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Number of attached output clients (tests, inspect). */
  get clients(): number {
    return this.#subs.size;
  }

  /**
   * A sink for the supervisor's output pump: every chunk is queued to each subscriber and the
   * write resolves at once, so no client can slow the container or its log.
   */
  output(stream: LogStream): WritableStream<Uint8Array> {
    return new WritableStream<Uint8Array>({
      write: (chunk): void => {
        for (const sub of this.#subs) this.#deliver(sub, stream, chunk);
      },
    });
  }

  #deliver(sub: Subscriber, stream: LogStream, chunk: Uint8Array): void {
    const w = sub.writers[stream];
    if (!w) return;
    if (sub.backlog + chunk.byteLength > MAX_CLIENT_BACKLOG) {
      sub.finish("gone");
      return;
    }
    sub.backlog += chunk.byteLength;
    // Copied: the pump may reuse nothing today, but a client's queue must own its bytes.
    const bytes = chunk.slice();
    sub.chain = sub.chain.then(async () => {
      try {
        await w.write(bytes);
      } catch {
        sub.finish("gone");
      } finally {
        sub.backlog -= bytes.byteLength;
      }
    });
  }

  /**
   * Subscribes a client to the output from now on. The client's streams are locked while
   * subscribed and never closed (they may be the process's own stdout).
   */
  subscribe(out: AttachOutput): AttachSubscription {
    let resolve!: (r: "ended" | "gone") => void;
    const done = new Promise<"ended" | "gone">((r) => resolve = r);
    const writers: Subscriber["writers"] = {};
    if (out.stdout) writers.stdout = sinkWriter(out.stdout);
    if (out.stderr && !this.tty) writers.stderr = sinkWriter(out.stderr);
    let finished = false;
    const sub: Subscriber = {
      writers,
      chain: Promise.resolve(),
      backlog: 0,
      finish: (reason): void => {
        if (finished) return;
        finished = true;
        this.#subs.delete(sub);
        for (const w of Object.values(writers)) {
          try {
            w.release();
          } catch {
            // a write is still pending on a gone client: the lock goes with it
          }
        }
        resolve(reason);
      },
    };
    if (this.#ended) sub.finish("ended");
    else this.#subs.add(sub);
    return { done, close: () => sub.finish("gone") };
  }

  /** Writes client input to the container's stdin, in arrival order across clients. */
  writeStdin(chunk: Uint8Array): Promise<void> {
    const w = this.#stdin;
    if (!w) return Promise.reject(new Error("The container's stdin is closed"));
    const next = this.#stdinChain.then(() => w.write(chunk));
    this.#stdinChain = next.catch(() => {});
    return next;
  }

  /** Closes the container's stdin (it reads EOF once queued input is written). Idempotent. */
  async closeStdin(): Promise<void> {
    const w = this.#stdin;
    if (!w) return;
    this.#stdin = undefined;
    await this.#stdinChain;
    await w.close().catch(() => {});
  }

  /**
   * The container exited and its output is drained: clients get what is queued, then their
   * sessions end; stdin is released.
   */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    const w = this.#stdin;
    this.#stdin = undefined;
    w?.abort().catch(() => {});
    for (const sub of [...this.#subs]) sub.chain.then(() => sub.finish("ended"));
  }
}

/** How an attachment ended. */
export type AttachOutcome = "detached" | "exited" | "stdin-closed" | "gone" | "aborted";

/** Options of {@link runAttachSession}. */
export interface AttachSessionOptions {
  /** The client's input (absent: output only). */
  stdin?: ReadableStream<Uint8Array> | null;
  stdout?: OutputSink | null;
  stderr?: OutputSink | null;
  /**
   * Scans input for the detach sequence; `push` returns the bytes to forward and whether the
   * sequence completed (see detach_keys.ts `DetachKeyScanner`).
   */
  scanner?: { push(chunk: Uint8Array): { data: Uint8Array; detached: boolean } };
  /**
   * The output source when the hub does not fan out (no terminal, or no hub: a container this
   * engine does not supervise): follows the container's log into the sinks until it stops.
   */
  follow(out: AttachOutput, signal: AbortSignal): Promise<void>;
  /** Aborting ends the attachment ("aborted"). */
  signal?: AbortSignal;
  /** Called once the output is connected. */
  onAttached?: () => void;
}

/**
 * One attachment: input to the hub's stdin (through the detach scanner), output from the hub
 * (tty) or the log. Resolves when the client detaches, the container exits (after its last
 * output reached the client), the client is gone, or the signal aborts.
 *
 * End of the client's input follows docker: with `StdinOnce` (and no tty) it closes the
 * container's stdin and output goes on until the exit; otherwise the session ends after a short
 * drain, since a client that stops sending on a tty has gone away.
 */
export async function runAttachSession(
  hub: AttachHub | undefined,
  options: AttachSessionOptions,
): Promise<AttachOutcome> {
  const stop = new AbortController();
  let settle!: (o: AttachOutcome) => void;
  const outcome = new Promise<AttachOutcome>((r) => settle = r);
  const onAbort = (): void => settle("aborted");
  if (options.signal?.aborted) return "aborted";
  options.signal?.addEventListener("abort", onAbort, { once: true });

  let sub: AttachSubscription | undefined;
  const out: AttachOutput = { stdout: options.stdout, stderr: options.stderr };
  if (hub?.tty) {
    sub = hub.subscribe(out);
    sub.done.then((r) => settle(r === "ended" ? "exited" : "gone"));
  } else {
    options.follow(out, stop.signal).then(
      () => settle("exited"),
      () => settle("gone"),
    );
  }

  options.onAttached?.();
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  if (options.stdin) {
    reader = options.stdin.getReader();
    const r = reader;
    (async () => {
      for (;;) {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await r.read();
        } catch {
          break; // the client's input failed: as its end
        }
        if (chunk.done) break;
        const { data, detached } = options.scanner?.push(chunk.value) ??
          { data: chunk.value, detached: false };
        if (data.length && hub?.hasStdin) {
          // The container closed its stdin: later input is dropped, as docker does.
          await hub.writeStdin(data).catch(() => {});
        }
        if (detached) {
          settle("detached");
          return;
        }
      }
      if (stop.signal.aborted) return;
      if (hub?.stdinOnce && !hub.tty) {
        await hub.closeStdin();
        return;
      }
      await new Promise((r) => setTimeout(r, STDIN_EOF_DRAIN_MS));
      settle("stdin-closed");
    })();
  }

  const result = await outcome;
  options.signal?.removeEventListener("abort", onAbort);
  stop.abort();
  sub?.close();
  if (reader) {
    reader.cancel().catch(() => {});
  }
  return result;
}
