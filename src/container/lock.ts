/**
 * Inter-process locks on lock files (`flock` through `Deno.FsFile.lock`). flock locks belong to
 * the open file description, so they also exclude other holders in the same process; they are
 * released by the kernel if the holder dies, so no stale lock survives a crash.
 *
 * @module
 */
import * as path from "node:path";

/** Runs `fn` while holding an exclusive lock on `file` (created if missing). */
export async function withLock<T>(file: string, fn: () => Promise<T> | T): Promise<T> {
  await Deno.mkdir(path.dirname(file), { recursive: true });
  const handle = await Deno.open(file, { read: true, write: true, create: true });
  try {
    await handle.lock(true);
    return await fn();
  } finally {
    // Closing the descriptor releases the lock.
    handle.close();
  }
}
