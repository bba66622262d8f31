/**
 * Applies a layer on its own Worker thread (`layer_worker.ts`). Extraction is synchronous and
 * CPU-bound (file creation alone costs ~200 µs of kernel time per file on ext4 here), so on the
 * main thread the layers of one image would take turns on one core; each on its own Worker,
 * they use every core while the main thread keeps downloading.
 *
 * The main thread batches the compressed stream into 512 KiB buffers and transfers them; at
 * most {@link MAX_QUEUED} are queued in the Worker, so memory stays bounded and the source is
 * read only as fast as the layer extracts (back-pressure reaches the download).
 *
 * @module
 */
import {
  ConflictError,
  type DockerTsError,
  type ErrorKind,
  InternalError,
  InvalidArgumentError,
  InvalidStateError,
  NotFoundError,
  NotImplementedError,
  UnauthorizedError,
  UnavailableError,
} from "../errors.ts";
import type { ApplyLayerResult, RemoteApplyOptions } from "../storage/layer_apply.ts";
import type { FromLayerWorker, ToLayerWorker, WireError } from "./layer_worker.ts";

const WORKER_URL = new URL("./layer_worker.ts", import.meta.url);
/** Bytes per message to the Worker. */
const BATCH = 512 * 1024;
/** Batches queued in the Worker at most (2 MiB of compressed data). */
const MAX_QUEUED = 4;
/** Layer Workers running at once in this process; further layers wait for a slot. */
const MAX_WORKERS = Math.max(2, Math.min(8, navigator.hardwareConcurrency ?? 2)) + 1;

const ERROR_CLASSES: Record<ErrorKind, new (message: string, options?: ErrorOptions) => Error> = {
  NotFound: NotFoundError,
  Conflict: ConflictError,
  InvalidArgument: InvalidArgumentError,
  InvalidState: InvalidStateError,
  NotImplemented: NotImplementedError,
  Unavailable: UnavailableError,
  Unauthorized: UnauthorizedError,
  Internal: InternalError,
};

/** Rebuilds a Worker's error with its category, errno name and cause, for callers' checks. */
function fromWire(e: WireError): Error {
  let cause: Error | undefined;
  if (e.cause) {
    cause = new Error(e.cause.message);
    if (e.cause.code) Object.assign(cause, { code: e.cause.code });
  }
  const options = cause ? { cause } : undefined;
  let err: Error;
  if (e.kind && ERROR_CLASSES[e.kind]) {
    err = new ERROR_CLASSES[e.kind](e.message, options) as DockerTsError;
  } else {
    err = new Error(e.message, options);
    err.name = e.name;
  }
  if (e.code) Object.assign(err, { code: e.code });
  return err;
}

let running = 0;
const slotWaiters: (() => void)[] = [];

async function acquireSlot(signal: AbortSignal | undefined): Promise<() => void> {
  while (running >= MAX_WORKERS) {
    signal?.throwIfAborted();
    await new Promise<void>((resolve) => {
      slotWaiters.push(resolve);
      signal?.addEventListener("abort", () => resolve(), { once: true });
    });
  }
  running++;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    running--;
    slotWaiters.shift()?.();
  };
}

/** Resolves when the signal aborts (never otherwise). */
function abortPromise(signal: AbortSignal | undefined): Promise<never> {
  return new Promise((_, reject) => {
    if (!signal) return;
    if (signal.aborted) return reject(signal.reason);
    signal.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
}

/** Options of {@link applyLayerInWorker}. */
export interface WorkerApplyOptions extends RemoteApplyOptions {
  /** Does the same work on this thread, on the same data, when no Worker can start. */
  fallback: (stream: AsyncIterable<Uint8Array>) => Promise<ApplyLayerResult>;
  /** The Worker module (tests substitute a broken one); default `layer_worker.ts`. */
  workerUrl?: URL;
}

/**
 * Decompresses, hashes and extracts `stream` into `destDir` on a fresh Worker thread; same
 * contract as `applyLayer` from `src/storage/layer_apply.ts`. When the promise settles the
 * Worker has stopped touching `destDir`. When no Worker can start (constructor error, or its
 * module fails to load, e.g. a permission set without read access to this file),
 * `options.fallback` does the work on this thread with the same data: nothing is handed to a
 * Worker before it reported that it loaded.
 */
export async function applyLayerInWorker(
  stream: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
  destDir: string,
  options: WorkerApplyOptions,
): Promise<ApplyLayerResult> {
  const { signal, fallback } = options;
  signal?.throwIfAborted();
  const source = (stream as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
  const release = await acquireSlot(signal);
  let worker: Worker | undefined;
  let held: Uint8Array[] = [];
  try {
    try {
      worker = new Worker(options.workerUrl ?? WORKER_URL, { type: "module" });
    } catch {
      worker = undefined;
    }
    if (worker) {
      const r = await drive(worker, source, destDir, options);
      if (r.ok) return r.result;
      held = r.held;
    }
  } finally {
    worker?.terminate();
    release();
  }
  // The Worker never loaded: replay what it was not given, then the rest of the source.
  return await fallback(replay(held, source));
}

async function* replay(
  held: Uint8Array[],
  source: AsyncIterator<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  try {
    for (const chunk of held) yield chunk;
    for (;;) {
      const step = await source.next();
      if (step.done) return;
      yield step.value;
    }
  } finally {
    await source.return?.();
  }
}

/** What {@link drive} ends with: a result, or the data held back from a Worker that never loaded. */
type DriveResult = { ok: true; result: ApplyLayerResult } | { ok: false; held: Uint8Array[] };

async function drive(
  worker: Worker,
  source: AsyncIterator<Uint8Array>,
  destDir: string,
  options: RemoteApplyOptions,
): Promise<DriveResult> {
  const { signal } = options;
  const post = (msg: ToLayerWorker, transfer?: Transferable[]): void =>
    worker.postMessage(msg, transfer ? { transfer } : undefined);

  // `settled`: the Worker answered (or died); `loaded`: its modules loaded (it said "ready").
  let settled = false;
  let loaded = false;
  let loadFailed = false;
  let credits = MAX_QUEUED;
  /** Batches kept here until the Worker has loaded (bounded by the credits). */
  const held: Uint8Array[] = [];
  /** The source ended before the Worker loaded: "end" follows the held batches. */
  let endHeld = false;
  let wakeFeeder: (() => void) | undefined;
  const wake = (): void => {
    const w = wakeFeeder;
    wakeFeeder = undefined;
    w?.();
  };
  const send = (chunk: Uint8Array): void =>
    post({ op: "data", chunk }, [chunk.buffer as ArrayBuffer]);
  const outcome = new Promise<ApplyLayerResult>((resolve, reject) => {
    worker.onmessage = (ev: MessageEvent<FromLayerWorker>) => {
      const msg = ev.data;
      switch (msg.op) {
        case "ready":
          loaded = true;
          for (const chunk of held.splice(0)) send(chunk);
          if (endHeld) post({ op: "end" });
          break;
        case "credit":
          credits++;
          wake();
          break;
        case "progress":
          options.onProgress?.(msg.size);
          break;
        case "done":
          settled = true;
          wake();
          options.onProgress?.(msg.result.size);
          resolve(msg.result);
          break;
        case "error":
          settled = true;
          wake();
          reject(fromWire(msg.error));
          break;
      }
    };
    worker.onerror = (ev: ErrorEvent) => {
      ev.preventDefault();
      settled = true;
      if (!loaded) loadFailed = true;
      wake();
      reject(new InternalError(`Cannot unpack layer: the unpack worker failed (${ev.message})`));
    };
  });
  // Observed below in every path; this keeps an early rejection from counting as unhandled.
  outcome.catch(() => {});
  post({ op: "start", destDir, mediaType: options.mediaType, progress: !!options.onProgress });

  const aborted = abortPromise(signal);
  aborted.catch(() => {});
  const stopped = outcome.then(() => undefined, () => undefined);
  let batch = new Uint8Array(BATCH);
  let fill = 0;
  let sourceDone = false;

  const flush = async (): Promise<void> => {
    while (credits === 0 && !settled) {
      await Promise.race([new Promise<void>((r) => wakeFeeder = r), aborted]);
    }
    if (fill === 0 || (settled && !loadFailed)) return;
    credits--;
    const chunk = fill === batch.length ? batch : batch.slice(0, fill);
    batch = new Uint8Array(BATCH);
    fill = 0;
    if (loaded) send(chunk);
    else held.push(chunk);
  };
  /** A read still in flight when the Worker died; its chunk belongs to the fallback. */
  let pendingNext: Promise<IteratorResult<Uint8Array>> | undefined;
  /** The part of a source chunk not yet batched when the Worker died. */
  let tail: Uint8Array | undefined;
  const heldBack = async (): Promise<DriveResult> => {
    if (fill > 0) held.push(batch.slice(0, fill));
    if (tail) held.push(tail.slice());
    if (pendingNext) {
      const step = await pendingNext;
      if (!step.done) held.push(step.value);
    }
    return { ok: false, held };
  };

  try {
    while (!settled) {
      pendingNext = source.next();
      const step = await Promise.race([pendingNext, aborted, stopped]);
      if (step === undefined) break; // the Worker answered before the stream ended
      pendingNext = undefined;
      if (step.done) {
        sourceDone = true;
        break;
      }
      let value = step.value;
      while (value.length > 0) {
        if (settled) {
          tail = value;
          break;
        }
        const n = Math.min(value.length, BATCH - fill);
        batch.set(value.subarray(0, n), fill);
        fill += n;
        value = value.subarray(n);
        if (fill === BATCH) await flush();
      }
    }
    // Its module never loaded: everything read so far is still here, hand it to the fallback.
    if (loadFailed) return await heldBack();
    if (sourceDone) {
      await flush();
      if (!settled) {
        if (loaded) post({ op: "end" });
        else endHeld = true;
      }
    }
    try {
      return { ok: true, result: await Promise.race([outcome, aborted]) };
    } catch (err) {
      if (loadFailed) return await heldBack();
      throw err;
    }
  } catch (err) {
    // Abort, a failing source (network, digest) or a failed Worker: stop the Worker and wait
    // until it has closed its files, so the caller can remove the directory right away.
    if (!settled) {
      post({ op: "abort" });
      await stopped;
    }
    if (signal?.aborted) throw signal.reason;
    throw err;
  } finally {
    if (!sourceDone && !loadFailed) {
      // The Worker finished or failed first: release the source (its owner may drain it).
      source.return?.()?.catch(() => {});
    }
  }
}
