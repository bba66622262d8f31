/**
 * Inter-process locks on lock files (`flock` through `Deno.FsFile.lock`). flock locks belong to
 * the open file description, so they also exclude other holders in the same process; they are
 * released by the kernel if the holder dies, so no stale lock survives a crash.
 *
 * @module
 */
import { dirnamePath } from "../util/path.ts";

/** Runs `fn` while holding an exclusive lock on `file` (created if missing). */
export async function withLock<T>(file: string, fn: () => Promise<T> | T): Promise<T> {
  // Sync open (no pool round trip); the directory is made only the first time it is missing.
  let handle: Deno.FsFile;
  try {
    handle = Deno.openSync(file, { read: true, write: true, create: true });
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
    Deno.mkdirSync(dirnamePath(file), { recursive: true });
    handle = Deno.openSync(file, { read: true, write: true, create: true });
  }
  try {
    // Async: a contended lock must not block the engine's main thread.
    await handle.lock(true);
    return await fn();
  } finally {
    // Closing the descriptor releases the lock.
    handle.close();
  }
}
