/**
 * Worker entry that applies one layer: decompress, hash (diffID) and extract, all on this
 * thread, with the host {@link HostLayerFs}. The main thread only downloads and hands over the
 * compressed bytes (transferred, not copied), so several layers extract on several cores.
 *
 * Protocol (see `layer_worker_client.ts`): the Worker says `ready` once its modules loaded;
 * the main thread sends `start` once, then `data` chunks (each answered by
 * `credit` once taken, which bounds the bytes queued here), then `end`; or `abort` at any time.
 * The Worker answers `done` or `error` exactly once, after every file it opened is closed and
 * the extraction stopped, so the caller may then remove the directory. Single use.
 *
 * @module
 */
import { applyLayer } from "../storage/layer_apply.ts";
import { HostLayerFs } from "./host_layer_fs.ts";
import { nativeDecoder } from "../../ffi/zlib.ts";
import type { ErrorKind } from "../errors.ts";

/** Messages to the Worker. */
export type ToLayerWorker =
  | { op: "start"; destDir: string; mediaType: string; progress: boolean }
  | { op: "data"; chunk: Uint8Array }
  | { op: "end" }
  | { op: "abort" };

/** An error as it crosses the thread boundary (classes do not survive structured cloning). */
export interface WireError {
  /** docker-ts error category, when it was a `DockerTsError`. */
  kind?: ErrorKind;
  /** `Error.name` (`AbortError`, `InternalError`, …). */
  name: string;
  message: string;
  /** errno name (`ENOSPC`, …) when the error or its cause carried one. */
  code?: string;
  /** The cause's message and errno name, one level deep. */
  cause?: { message: string; code?: string };
}

/** Messages from the Worker. */
export type FromLayerWorker =
  | { op: "ready" }
  | { op: "credit" }
  | { op: "progress"; size: number }
  | { op: "done"; result: { diffId: string; size: number; entries: number; warnings: string[] } }
  | { op: "error"; error: WireError };

function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

function toWire(err: unknown): WireError {
  if (!(err instanceof Error)) return { name: "Error", message: String(err) };
  const kind = (err as { kind?: unknown }).kind;
  const cause = err.cause instanceof Error
    ? { message: err.cause.message, code: codeOf(err.cause) }
    : undefined;
  return {
    ...(typeof kind === "string" ? { kind: kind as ErrorKind } : {}),
    name: err.name,
    message: err.message,
    code: codeOf(err) ?? cause?.code,
    ...(cause ? { cause } : {}),
  };
}

const scope = globalThis as unknown as {
  onmessage: ((ev: MessageEvent<ToLayerWorker>) => void) | null;
  postMessage(msg: FromLayerWorker): void;
};

const queue: Uint8Array[] = [];
let ended = false;
let started = false;
let wake: (() => void) | undefined;
const aborter = new AbortController();

function notify(): void {
  const w = wake;
  wake = undefined;
  w?.();
}

/** The compressed stream as the main thread feeds it. */
async function* input(): AsyncGenerator<Uint8Array> {
  for (;;) {
    const chunk = queue.shift();
    if (chunk !== undefined) {
      scope.postMessage({ op: "credit" });
      yield chunk;
      continue;
    }
    aborter.signal.throwIfAborted();
    if (ended) return;
    await new Promise<void>((resolve) => wake = resolve);
  }
}

async function run(destDir: string, mediaType: string, progress: boolean): Promise<void> {
  let reported = 0;
  try {
    const result = await applyLayer(input(), destDir, {
      mediaType,
      fs: new HostLayerFs(),
      decoders: nativeDecoder,
      signal: aborter.signal,
      // Every 4 MiB: enough for a progress bar, few messages.
      onProgress: progress
        ? (size) => {
          if (size - reported >= 4 << 20) {
            reported = size;
            scope.postMessage({ op: "progress", size });
          }
        }
        : undefined,
    });
    scope.postMessage({ op: "done", result });
  } catch (err) {
    scope.postMessage({ op: "error", error: toWire(err) });
  }
}

scope.onmessage = (ev: MessageEvent<ToLayerWorker>): void => {
  const msg = ev.data;
  switch (msg.op) {
    case "start":
      if (started) return;
      started = true;
      void run(msg.destDir, msg.mediaType, msg.progress);
      break;
    case "data":
      queue.push(msg.chunk);
      notify();
      break;
    case "end":
      ended = true;
      notify();
      break;
    case "abort":
      queue.length = 0;
      aborter.abort(new DOMException("The layer unpack was aborted", "AbortError"));
      notify();
      break;
  }
};

// Every module loaded (imports resolve before this body runs): data may now be handed over.
scope.postMessage({ op: "ready" });
