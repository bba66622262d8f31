/**
 * C string and pointer-array helpers. Buffers returned here must stay referenced by the caller
 * until the FFI call that uses them returns (the GC may move nothing, but it may free).
 *
 * @module
 */

const encoder = new TextEncoder();

/** A NUL-terminated copy of `s`, for `buffer` parameters. */
export function cstr(s: string): Uint8Array<ArrayBuffer> {
  const bytes = encoder.encode(s);
  if (bytes.includes(0)) throw new TypeError(`String contains a NUL byte: ${JSON.stringify(s)}`);
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  return out;
}

/** A NULL-terminated `char *const[]` (argv/envp). Keep the result alive across the call. */
export class CStringArray {
  /** The pointer array itself. */
  readonly array: BigUint64Array<ArrayBuffer>;
  readonly #strings: Uint8Array[];

  constructor(items: readonly string[]) {
    this.#strings = items.map(cstr);
    this.array = new BigUint64Array(items.length + 1);
    this.#strings.forEach((s, i) => {
      this.array[i] = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(s)));
    });
    this.array[items.length] = 0n;
  }

  /** Pointer to the array, for `pointer` parameters. */
  get pointer(): Deno.PointerValue {
    return Deno.UnsafePointer.of(this.array);
  }
}

/** Reads a NUL-terminated string at `ptr`. */
export function readCString(ptr: Deno.PointerValue): string {
  if (ptr === null) return "";
  return new Deno.UnsafePointerView(ptr).getCString();
}
