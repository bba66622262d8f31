/**
 * Releases the disk space of raw log output that has already been converted to json-file lines:
 * the container keeps appending to the raw file at ever larger offsets, so the converted prefix
 * becomes a hole instead of growing the disk usage without bound.
 *
 * @module
 */
import { punchHole } from "../../ffi/fallocate.ts";

const BLOCK = 4096;

/**
 * Frees `[0, upTo)` of `file`, rounded down to whole blocks. Best effort: returns false when the
 * file system cannot punch holes or the file is gone.
 */
export function releaseConverted(file: string, upTo: number): boolean {
  const end = Math.floor(upTo / BLOCK) * BLOCK;
  if (end <= 0) return true;
  try {
    return punchHole(file, 0, end);
  } catch {
    return false;
  }
}
