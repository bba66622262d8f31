/**
 * Progress events for pull/push/load, shaped like the Docker Engine API's JSON-message stream
 * (`{"status", "id", "progressDetail": {"current", "total"}}`) so the API server can forward them
 * as they are and the CLI can render docker's per-layer lines.
 *
 * @module
 */

/** One progress message. */
export interface ProgressEvent {
  /** `Pulling fs layer`, `Downloading`, `Pull complete`, `Digest: sha256:…`, … */
  status: string;
  /** Layer short id (12 hex) or tag, when the message belongs to one line. */
  id?: string;
  /** Byte counts for Downloading / Extracting / Pushing. */
  progressDetail?: { current?: number; total?: number };
}

/** Receiver of progress events; must not throw. */
export type ProgressHandler = (event: ProgressEvent) => void;

/** docker's 12-hex short id of a digest. */
export function shortId(digest: string): string {
  return digest.replace(/^sha256:/, "").slice(0, 12);
}

/** Calls a handler, swallowing its errors (a broken renderer must not break a pull). */
export function emit(handler: ProgressHandler | undefined, event: ProgressEvent): void {
  if (!handler) return;
  try {
    handler(event);
  } catch { /* rendering failures are not pull failures */ }
}
