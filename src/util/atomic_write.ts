/**
 * Atomic file writes: temp file in the same directory, fsync, rename, fsync the directory.
 * A reader sees the old content or the new one, never a mix; a crash leaves at most a temp file
 * whose name starts with `.tmp-`, which cleanup passes may remove.
 *
 * @module
 */
import * as fs from "node:fs";
import * as path from "node:path";

/** Writes `data` to `file` atomically and durably. */
export function atomicWriteFileSync(
  file: string,
  data: string | Uint8Array,
  options: { mode?: number } = {},
): void {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.tmp-${path.basename(file)}-${crypto.randomUUID().slice(0, 8)}`);
  const fd = fs.openSync(tmp, "wx", options.mode ?? 0o644);
  try {
    fs.writeSync(fd, typeof data === "string" ? new TextEncoder().encode(data) : data);
    fs.fsyncSync(fd);
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  fs.closeSync(fd);
  try {
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  fsyncDirSync(dir);
}

/** Writes `value` as pretty JSON atomically. */
export function atomicWriteJsonSync(file: string, value: unknown): void {
  atomicWriteFileSync(file, JSON.stringify(value, null, 2) + "\n");
}

/** fsyncs a directory so a rename inside it is durable. */
export function fsyncDirSync(dir: string): void {
  const fd = fs.openSync(dir, "r");
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
