/**
 * Streaming gzip and zstd decoding through the system's zlib (`libz.so.1`) and libzstd
 * (`libzstd.so.1`). Why not node:zlib: in Deno its decoders serialize across threads (two
 * Workers inflating at once each take twice as long), so layers unpacked on several Workers
 * would still decompress on one core. These run on the calling thread, synchronously, into one
 * reused output buffer.
 *
 * @module
 */

const LIBS: Record<string, Record<string, string[]>> = {
  z: {
    x86_64: [
      "/lib/x86_64-linux-gnu/libz.so.1",
      "/usr/lib/x86_64-linux-gnu/libz.so.1",
      "/lib64/libz.so.1",
    ],
    aarch64: [
      "/lib/aarch64-linux-gnu/libz.so.1",
      "/usr/lib/aarch64-linux-gnu/libz.so.1",
      "/lib64/libz.so.1",
    ],
  },
  zstd: {
    x86_64: [
      "/lib/x86_64-linux-gnu/libzstd.so.1",
      "/usr/lib/x86_64-linux-gnu/libzstd.so.1",
      "/lib64/libzstd.so.1",
    ],
    aarch64: [
      "/lib/aarch64-linux-gnu/libzstd.so.1",
      "/usr/lib/aarch64-linux-gnu/libzstd.so.1",
      "/lib64/libzstd.so.1",
    ],
  },
};

const zSymbols = {
  /** const char *zlibVersion(void); */
  zlibVersion: { parameters: [], result: "pointer" },
  /** int inflateInit2_(z_streamp strm, int windowBits, const char *version, int stream_size); */
  inflateInit2_: { parameters: ["buffer", "i32", "buffer", "i32"], result: "i32" },
  /** int inflate(z_streamp strm, int flush); */
  inflate: { parameters: ["buffer", "i32"], result: "i32" },
  /** int inflateReset(z_streamp strm); */
  inflateReset: { parameters: ["buffer"], result: "i32" },
  /** int inflateEnd(z_streamp strm); */
  inflateEnd: { parameters: ["buffer"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

const zstdSymbols = {
  /** ZSTD_DStream *ZSTD_createDStream(void); */
  ZSTD_createDStream: { parameters: [], result: "pointer" },
  /** size_t ZSTD_freeDStream(ZSTD_DStream *zds); */
  ZSTD_freeDStream: { parameters: ["pointer"], result: "usize" },
  /** size_t ZSTD_decompressStream(ZSTD_DStream *zds, ZSTD_outBuffer *out, ZSTD_inBuffer *in); */
  ZSTD_decompressStream: { parameters: ["pointer", "buffer", "buffer"], result: "usize" },
  /** unsigned ZSTD_isError(size_t code); */
  ZSTD_isError: { parameters: ["usize"], result: "u32" },
  /** const char *ZSTD_getErrorName(size_t code); */
  ZSTD_getErrorName: { parameters: ["usize"], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

let zLib: Deno.DynamicLibrary<typeof zSymbols> | null | undefined;
let zstdLib: Deno.DynamicLibrary<typeof zstdSymbols> | null | undefined;

function open<S extends Deno.ForeignLibraryInterface>(
  name: string,
  symbols: S,
): Deno.DynamicLibrary<S> | null {
  for (const candidate of LIBS[name][Deno.build.arch] ?? []) {
    try {
      Deno.statSync(candidate);
    } catch {
      continue;
    }
    try {
      return Deno.dlopen(candidate, symbols);
    } catch {
      return null; // present but unusable (permissions, symbols): the caller falls back
    }
  }
  return null;
}

function z(): Deno.DynamicLibrary<typeof zSymbols> | null {
  if (zLib === undefined) zLib = open("z", zSymbols);
  return zLib;
}

function zstd(): Deno.DynamicLibrary<typeof zstdSymbols> | null {
  if (zstdLib === undefined) zstdLib = open("zstd", zstdSymbols);
  return zstdLib;
}

/** A data error of the compressed stream (corrupt or truncated input). */
export class DecodeError extends Error {
  /** An error with zlib's or libzstd's description of the problem. */
  constructor(message: string) {
    super(message);
    this.name = "DecodeError";
  }
}

/** A synchronous streaming decoder over one reused output buffer. */
export interface StreamDecoder {
  /**
   * Decodes `input` completely, calling `sink` with each piece of output; a piece is only
   * valid during the call (the buffer is reused). Throws {@link DecodeError} on bad data.
   */
  push(input: Uint8Array, sink: (out: Uint8Array) => void): void;
  /** Checks that the stream ended properly (not truncated); throws {@link DecodeError}. */
  finish(): void;
  /** Frees the native state; safe to call more than once. */
  close(): void;
}

const OUT_SIZE = 256 * 1024;
const Z_OK = 0;
const Z_STREAM_END = 1;
const Z_NEED_DICT = 2;
const Z_BUF_ERROR = -5;
/** `struct z_stream` on LP64 (x86_64, aarch64): 112 bytes. */
const Z_STREAM_SIZE = 112;
const OFF_NEXT_IN = 0;
const OFF_AVAIL_IN = 8;
const OFF_NEXT_OUT = 24;
const OFF_AVAIL_OUT = 32;
const OFF_MSG = 48;

function ptrValue(buf: Uint8Array): bigint {
  return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buf)));
}

class GzipDecoder implements StreamDecoder {
  readonly #lib: Deno.DynamicLibrary<typeof zSymbols>;
  // ArrayBuffer-backed (never on the V8 heap), so the addresses zlib keeps stay valid.
  readonly #strm = new Uint8Array(new ArrayBuffer(Z_STREAM_SIZE));
  readonly #view = new DataView(this.#strm.buffer);
  readonly #out = new Uint8Array(new ArrayBuffer(OUT_SIZE));
  readonly #outPtr = ptrValue(this.#out);
  #open = true;
  /** True between the end of one gzip member and the start of the next. */
  #ended = false;
  /** True once input after the last member was seen that is not another member. */
  #trailing = false;

  constructor(lib: Deno.DynamicLibrary<typeof zSymbols>) {
    this.#lib = lib;
    const version = lib.symbols.zlibVersion();
    const v = version ? new Deno.UnsafePointerView(version).getCString() : "1.2.13";
    // windowBits 15 + 16: gzip wrapper only (the media type said gzip and the magic agreed).
    const rc = lib.symbols.inflateInit2_(
      this.#strm,
      15 + 16,
      new TextEncoder().encode(`${v}\0`),
      Z_STREAM_SIZE,
    );
    if (rc !== Z_OK) throw new Error(`Cannot start gzip decoder: zlib error ${rc}`);
  }

  push(input: Uint8Array, sink: (out: Uint8Array) => void): void {
    if (!this.#open) throw new Error("Cannot decode: the gzip decoder is closed");
    if (input.length === 0 || this.#trailing) return;
    const s = this.#lib.symbols;
    const view = this.#view;
    // The input must not move while zlib reads it: copy data that lives on the V8 heap.
    const data = input.byteLength <= 64 ? input.slice() : input;
    let pos = 0;
    while (pos < data.length) {
      if (this.#ended) {
        // Concatenated members are one stream (gzip(1), Go and node agree); anything else
        // after the last member is ignored, as node:zlib does.
        if (data[pos] !== 0x1f) {
          this.#trailing = true;
          return;
        }
        if (s.inflateReset(this.#strm) !== Z_OK) throw new DecodeError("cannot reset inflate");
        this.#ended = false;
      }
      const base = ptrValue(data.subarray(pos));
      const avail = data.length - pos;
      view.setBigUint64(OFF_NEXT_IN, base, true);
      view.setUint32(OFF_AVAIL_IN, avail, true);
      for (;;) {
        view.setBigUint64(OFF_NEXT_OUT, this.#outPtr, true);
        view.setUint32(OFF_AVAIL_OUT, OUT_SIZE, true);
        const rc = s.inflate(this.#strm, 0);
        const produced = OUT_SIZE - view.getUint32(OFF_AVAIL_OUT, true);
        if (produced > 0) sink(this.#out.subarray(0, produced));
        if (rc === Z_STREAM_END) {
          this.#ended = true;
          break;
        }
        if (rc === Z_OK) {
          if (view.getUint32(OFF_AVAIL_IN, true) === 0 && produced < OUT_SIZE) break;
          continue;
        }
        if (rc === Z_BUF_ERROR) break; // needs more input
        throw new DecodeError(this.#message(rc));
      }
      pos = data.length - view.getUint32(OFF_AVAIL_IN, true);
    }
  }

  #message(rc: number): string {
    const msg = this.#view.getBigUint64(OFF_MSG, true);
    const text = msg !== 0n
      ? Deno.UnsafePointerView.getCString(Deno.UnsafePointer.create(msg)!)
      : rc === Z_NEED_DICT
      ? "a preset dictionary is needed"
      : `zlib error ${rc}`;
    return text;
  }

  finish(): void {
    if (!this.#ended) throw new DecodeError("unexpected end of file");
  }

  close(): void {
    if (!this.#open) return;
    this.#open = false;
    this.#lib.symbols.inflateEnd(this.#strm);
  }
}

class ZstdDecoder implements StreamDecoder {
  readonly #lib: Deno.DynamicLibrary<typeof zstdSymbols>;
  #ds: Deno.PointerValue;
  /** `ZSTD_inBuffer` {src, size, pos} then `ZSTD_outBuffer` {dst, size, pos}: 24 bytes each. */
  readonly #inBuf = new Uint8Array(new ArrayBuffer(24));
  readonly #outBuf = new Uint8Array(new ArrayBuffer(24));
  readonly #inView = new DataView(this.#inBuf.buffer);
  readonly #outView = new DataView(this.#outBuf.buffer);
  readonly #out = new Uint8Array(new ArrayBuffer(OUT_SIZE));
  /** Last ZSTD_decompressStream hint: 0 exactly when a frame is complete. */
  #hint = 1n;
  #sawInput = false;

  constructor(lib: Deno.DynamicLibrary<typeof zstdSymbols>) {
    this.#lib = lib;
    this.#ds = lib.symbols.ZSTD_createDStream();
    if (this.#ds === null) throw new Error("Cannot start zstd decoder: out of memory");
    this.#outView.setBigUint64(0, ptrValue(this.#out), true);
    this.#outView.setBigUint64(8, BigInt(OUT_SIZE), true);
  }

  push(input: Uint8Array, sink: (out: Uint8Array) => void): void {
    if (this.#ds === null) throw new Error("Cannot decode: the zstd decoder is closed");
    if (input.length === 0) return;
    this.#sawInput = true;
    const s = this.#lib.symbols;
    const data = input.byteLength <= 64 ? input.slice() : input;
    this.#inView.setBigUint64(0, ptrValue(data), true);
    this.#inView.setBigUint64(8, BigInt(data.length), true);
    this.#inView.setBigUint64(16, 0n, true);
    const size = BigInt(data.length);
    for (;;) {
      this.#outView.setBigUint64(16, 0n, true);
      const rc = BigInt(s.ZSTD_decompressStream(this.#ds, this.#outBuf, this.#inBuf));
      if (s.ZSTD_isError(rc)) {
        const name = s.ZSTD_getErrorName(rc);
        throw new DecodeError(name ? Deno.UnsafePointerView.getCString(name) : "zstd error");
      }
      this.#hint = rc;
      const produced = Number(this.#outView.getBigUint64(16, true));
      if (produced > 0) sink(this.#out.subarray(0, produced));
      const consumed = this.#inView.getBigUint64(16, true);
      // Done with this input once it is all consumed and the output buffer was not filled
      // (a full buffer may mean more output is pending inside the decoder).
      if (consumed === size && produced < OUT_SIZE) break;
    }
  }

  finish(): void {
    if (!this.#sawInput || this.#hint !== 0n) throw new DecodeError("unexpected end of file");
  }

  close(): void {
    if (this.#ds === null) return;
    this.#lib.symbols.ZSTD_freeDStream(this.#ds);
    this.#ds = null;
  }
}

/**
 * A native decoder for `gzip` or `zstd`, or undefined when the system library is missing (the
 * caller then decodes another way).
 */
export function nativeDecoder(kind: "gzip" | "zstd"): StreamDecoder | undefined {
  if (kind === "gzip") {
    const lib = z();
    return lib ? new GzipDecoder(lib) : undefined;
  }
  const lib = zstd();
  return lib ? new ZstdDecoder(lib) : undefined;
}
