/**
 * docker's detach keys (`--detach-keys`, default Ctrl-P Ctrl-Q): their syntax and a scanner that
 * finds the sequence in an input stream. Used by the engine's attach hub and by the API client,
 * which watches for the keys itself as docker's CLI does.
 *
 * @module
 */
import { InvalidArgumentError } from "../errors.ts";

/** Docker's default detach sequence: Ctrl-P Ctrl-Q. */
export const DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q";

/** What docker prints when the detach sequence ends an attachment. */
export const DETACH_MESSAGE = "read escape sequence";

/**
 * Parses docker's `--detach-keys` syntax into bytes: comma-separated keys, each a single
 * character or `ctrl-X` with X one of `a`-`z`, `@`, `[`, `\`, `]`, `^`, `_`.
 *
 * @example
 * ```ts
 * import { parseDetachKeys } from "./detach_keys.ts";
 * console.assert(parseDetachKeys("ctrl-p,ctrl-q").join() === "16,17");
 * ```
 */
export function parseDetachKeys(spec: string = DEFAULT_DETACH_KEYS): Uint8Array {
  const out: number[] = [];
  for (const key of spec.split(",")) {
    const k = key.trim();
    if (k.length === 1) {
      out.push(k.charCodeAt(0));
      continue;
    }
    const c = /^ctrl-(.)$/i.exec(k)?.[1].toLowerCase();
    if (c !== undefined && c >= "a" && c <= "z") out.push(c.charCodeAt(0) - 96);
    else if (c === "@") out.push(0);
    // ctrl-[ is ESC (27), then ctrl-\ 28, ctrl-] 29, ctrl-^ 30, ctrl-_ 31.
    else if (c !== undefined && "[\\]^_".includes(c)) out.push(27 + "[\\]^_".indexOf(c));
    else throw new InvalidArgumentError(`Invalid detach keys "${spec}": unknown key "${k}"`);
  }
  if (out.length === 0) throw new InvalidArgumentError(`Invalid detach keys "${spec}"`);
  return new Uint8Array(out);
}

/**
 * Finds the detach sequence in a stream of input chunks, as docker's escape proxy does: bytes
 * that may start the sequence are held back until the sequence completes (detach: they are
 * dropped) or breaks (they are passed on, in order). A match may span chunks.
 */
export class DetachKeyScanner {
  readonly #keys: Uint8Array;
  #matched = 0;

  /** `keys` as from {@link parseDetachKeys}; empty means never detach. */
  constructor(keys: Uint8Array) {
    this.#keys = keys;
  }

  /** The bytes to forward from `chunk`, and whether the sequence completed in it. */
  push(chunk: Uint8Array): { data: Uint8Array; detached: boolean } {
    const keys = this.#keys;
    if (keys.length === 0) return { data: chunk, detached: false };
    const out: number[] = [];
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      if (b === keys[this.#matched]) {
        this.#matched++;
        if (this.#matched === keys.length) {
          this.#matched = 0;
          return { data: new Uint8Array(out), detached: true };
        }
        continue;
      }
      // The held-back prefix was ordinary input after all.
      for (let j = 0; j < this.#matched; j++) out.push(keys[j]);
      this.#matched = 0;
      if (b === keys[0]) {
        this.#matched = 1;
        if (keys.length === 1) return { data: new Uint8Array(out), detached: true };
      } else {
        out.push(b);
      }
    }
    return { data: out.length === chunk.length ? chunk : new Uint8Array(out), detached: false };
  }
}
