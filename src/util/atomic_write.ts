/**
 * Atomic file writes: temp file in the same directory, fsync, rename, fsync the directory.
 * A reader sees the old content or the new one, never a mix; a crash leaves at most a temp file
 * whose name starts with `.tmp-`, which cleanup passes may remove.
 *
 * Deno's sync file API only (no `node:fs`): this module is on every `run`'s path, and `node:fs`
 * alone costs ~20 ms of module loading per process. `FsFile.syncSync()` is fsync(2), and works
 * on a directory opened read-only (verified on ext4, Linux 6.18).
 *
 * @module
 */
import { basenamePath, dirnamePath, randomHex } from "./path.ts";

const encoder = new TextEncoder();

/** Writes the whole of `data` to a fresh file `file` (must not exist), fsyncs it and closes it. */
export function writeNewFileSync(
  file: string,
  data: string | Uint8Array,
  options: { mode?: number; sync?: boolean } = {},
): void {
  const f = Deno.openSync(file, { write: true, createNew: true, mode: options.mode ?? 0o644 });
  try {
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    let off = 0;
    while (off < bytes.length) off += f.writeSync(bytes.subarray(off));
    if (options.sync !== false) f.syncSync();
  } finally {
    f.close();
  }
}

/**
 * Writes `data` to `file` atomically and (unless `sync: false`) durably. Without sync the
 * rename still makes it atomic for every process; only a host crash can lose it.
 */
export function atomicWriteFileSync(
  file: string,
  data: string | Uint8Array,
  options: { mode?: number; sync?: boolean } = {},
): void {
  const dir = dirnamePath(file);
  const tmp = `${dir}/.tmp-${basenamePath(file)}-${randomHex(4)}`;
  const sync = options.sync ?? true;
  try {
    writeNewFileSync(tmp, data, { mode: options.mode, sync });
    Deno.renameSync(tmp, file);
  } catch (err) {
    removeQuietly(tmp);
    throw err;
  }
  if (sync) fsyncDirSync(dir);
}

/** Writes `value` as pretty JSON atomically (and durably unless `sync: false`). */
export function atomicWriteJsonSync(
  file: string,
  value: unknown,
  options: { sync?: boolean } = {},
): void {
  atomicWriteFileSync(file, JSON.stringify(value, null, 2) + "\n", options);
}

/** fsyncs a directory so a rename inside it is durable. */
export function fsyncDirSync(dir: string): void {
  const f = Deno.openSync(dir, { read: true });
  try {
    f.syncSync();
  } finally {
    f.close();
  }
}

/** Removes `p` (recursively) and ignores "not found" and every other failure: cleanup only. */
export function removeQuietly(p: string): void {
  try {
    Deno.removeSync(p, { recursive: true });
  } catch {
    // nothing there, or nothing more we can do during cleanup
  }
}
