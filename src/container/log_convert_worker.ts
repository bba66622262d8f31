/**
 * Worker body of the off-thread log converter (see `LogConverterThread` in `logs.ts`): converts
 * one container's pending raw output per request, so a chatty container's json encoding runs on
 * another core instead of stalling the engine's main thread (attached streams, the API).
 *
 * @module
 */
import { ContainerLogs, type LogConfig } from "./logs.ts";

/** One conversion request. */
interface Request {
  seq: number;
  dir: string;
  id: string;
  config: LogConfig;
  locksDir: string;
}

const scope = self as unknown as {
  onmessage: ((e: MessageEvent<Request>) => void) | null;
  postMessage(m: unknown): void;
};

scope.onmessage = async (e: MessageEvent<Request>): Promise<void> => {
  const { seq, ...options } = e.data;
  try {
    const n = await new ContainerLogs(options).convert();
    scope.postMessage({ seq, ok: true, n });
  } catch (err) {
    scope.postMessage({
      seq,
      ok: false,
      message: err instanceof Error ? err.message : String(err),
    });
  }
};
