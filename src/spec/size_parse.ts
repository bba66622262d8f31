/**
 * Docker's size and CPU syntaxes (`512m`, `1.5`), kept apart from the zod schemas so the API
 * client can convert flags without loading zod.
 *
 * @module
 */
import { InvalidArgumentError } from "../errors.ts";

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4,
  p: 1024 ** 5,
};

/**
 * Parses a human size with binary units as Docker's `RAMInBytes` does (`512m`, `1g`, `1.5GiB`,
 * `100`), returning bytes.
 *
 * @example
 * ```ts
 * import { parseBytes } from "./size_parse.ts";
 * console.assert(parseBytes("512m") === 512 * 1024 * 1024);
 * ```
 */
export function parseBytes(value: string | number, flag = "size"): number {
  if (typeof value === "number") {
    if (!Number.isFinite(value) || value < 0) {
      throw new InvalidArgumentError(`Invalid ${flag} "${value}": must be a non-negative number`);
    }
    return Math.floor(value);
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgtpb]?)(?:i?b)?\s*$/i.exec(value);
  if (!m) {
    throw new InvalidArgumentError(`Invalid ${flag} "${value}": invalid size`);
  }
  return Math.floor(Number(m[1]) * SIZE_UNITS[m[2].toLowerCase()]);
}

/** Parses `--cpus` (`1.5`) into nano-CPUs as Docker does (`NanoCPUs`). */
export function parseNanoCpus(value: string | number): number {
  const n = typeof value === "number" ? value : Number(value.trim());
  if (!Number.isFinite(n) || n < 0 || (typeof value === "string" && value.trim() === "")) {
    throw new InvalidArgumentError(
      `Invalid argument "${value}" for "--cpus" flag: failed to parse`,
    );
  }
  return Math.round(n * 1e9);
}
