/**
 * Tar writer: ustar headers, pax extended headers (long paths and link names, large or
 * sub-second values, xattrs as `SCHILY.xattr.*`), GNU long names (`L`/`K`) and base-256 numbers,
 * for every entry type. {@link TarWriter} builds a whole archive in memory; {@link tarStream}
 * produces one as a stream with bounded memory, for big files. {@link encodeTarHeader} and
 * {@link tarPadding} are the building blocks for anything in between.
 *
 * ```ts
 * const w = new TarWriter();
 * w.add({ name: "etc/", type: "dir", mode: 0o755 });
 * w.add({ name: "etc/hostname", data: "box\n" });
 * const bytes: Uint8Array = w.finish();
 * ```
 *
 * @module
 */
import { InvalidArgumentError } from "../errors.ts";

/** Tar block size; every header and every data section is padded to it. */
export const TAR_BLOCK = 512;

/** Entry types, named; the typeflag bytes are in {@link TYPEFLAG}. */
export type TarEntryType =
  | "file"
  | "hardlink"
  | "symlink"
  | "char"
  | "block"
  | "dir"
  | "fifo"
  | "contiguous";

/** Typeflag byte (as a character) of each entry type. */
export const TYPEFLAG: Readonly<Record<TarEntryType, string>> = {
  file: "0",
  hardlink: "1",
  symlink: "2",
  char: "3",
  block: "4",
  dir: "5",
  fifo: "6",
  contiguous: "7",
};

/** Header encodings: pax (POSIX.1-2001, the default), GNU, or plain ustar (fails on overflow). */
export type TarFormat = "pax" | "gnu" | "ustar";

/** One entry to write. Only `name` is required; a regular file of `data` is the default. */
export interface TarWriterEntry {
  /** Path inside the archive; a trailing `/` is added for directories when missing. */
  name: string;
  /** Entry type; default `"file"`. */
  type?: TarEntryType;
  /** Permission bits including setuid/setgid/sticky; default 0o644 (0o755 for dirs). */
  mode?: number;
  /** Owner uid; default 0. */
  uid?: number;
  /** Owner gid; default 0. */
  gid?: number;
  /** Owner user name; default empty. */
  uname?: string;
  /** Owner group name; default empty. */
  gname?: string;
  /** Modification time in seconds since the epoch, may be fractional (pax keeps it); default 0. */
  mtime?: number;
  /** Data size; default the length of `data`, else 0. Must match `data` when both are given. */
  size?: number;
  /** File contents (regular files only). Strings are UTF-8 encoded. */
  data?: Uint8Array | string;
  /** Target of a symlink or hardlink. */
  linkname?: string;
  /** Device major number (char/block). */
  devmajor?: number;
  /** Device minor number (char/block). */
  devminor?: number;
  /** Extended attributes, written as pax `SCHILY.xattr.<name>` records. */
  xattrs?: Record<string, string | Uint8Array>;
  /** Extra pax records, written verbatim (pax header forced). */
  pax?: Record<string, string>;
  /** Header encoding for this entry; default the writer's. */
  format?: TarFormat;
}

/** Options of {@link TarWriter} and {@link tarStream}. */
export interface TarWriterOptions {
  /** Default header format; default `"pax"`. */
  format?: TarFormat;
}

const encoder = new TextEncoder();

// ustar field offsets and lengths.
const F = {
  name: [0, 100],
  mode: [100, 8],
  uid: [108, 8],
  gid: [116, 8],
  size: [124, 12],
  mtime: [136, 12],
  chksum: [148, 8],
  typeflag: [156, 1],
  linkname: [157, 100],
  magic: [257, 6],
  version: [263, 2],
  uname: [265, 32],
  gname: [297, 32],
  devmajor: [329, 8],
  devminor: [337, 8],
  prefix: [345, 155],
} as const;

function toBytes(v: string | Uint8Array): Uint8Array {
  return typeof v === "string" ? encoder.encode(v) : v;
}

/** Largest value an octal field of `len` bytes holds (len-1 digits plus a NUL). */
function octalMax(len: number): number {
  return 8 ** (len - 1) - 1;
}

function writeOctal(block: Uint8Array, [off, len]: readonly [number, number], value: number): void {
  const digits = value.toString(8).padStart(len - 1, "0");
  for (let i = 0; i < len - 1; i++) block[off + i] = digits.charCodeAt(i);
  block[off + len - 1] = 0;
}

/** GNU base-256: high bit of the first byte set, big-endian two's complement in the rest. */
function writeBase256(
  block: Uint8Array,
  [off, len]: readonly [number, number],
  value: number,
): void {
  let v = BigInt(Math.trunc(value));
  const neg = v < 0n;
  if (neg) v = (1n << BigInt(len * 8)) + v;
  for (let i = len - 1; i >= 0; i--) {
    block[off + i] = Number(v & 0xffn);
    v >>= 8n;
  }
  block[off] = neg ? 0xff : 0x80 | (block[off] & 0x7f);
}

function writeString(
  block: Uint8Array,
  [off, len]: readonly [number, number],
  bytes: Uint8Array,
): void {
  block.set(bytes.subarray(0, len), off);
}

/** One pax record `"<len> <key>=<value>\n"`; the length counts its own digits, in bytes. */
export function paxRecord(key: string, value: string | Uint8Array): Uint8Array {
  const body = concat([encoder.encode(` ${key}=`), toBytes(value), encoder.encode("\n")]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return concat([encoder.encode(String(len)), body]);
}

function concat(parts: Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Zero bytes that pad `size` bytes of data up to the next block boundary. */
export function tarPadding(size: number): Uint8Array {
  const rem = size % TAR_BLOCK;
  return new Uint8Array(rem === 0 ? 0 : TAR_BLOCK - rem);
}

/** The end-of-archive marker: two zero blocks. */
export function tarTrailer(): Uint8Array {
  return new Uint8Array(TAR_BLOCK * 2);
}

/** Splits a name into ustar (prefix, name) or returns undefined when it does not fit. */
function splitUstar(bytes: Uint8Array): [Uint8Array, Uint8Array] | undefined {
  if (bytes.length <= 100) return [new Uint8Array(0), bytes];
  // The split must happen at a '/', with prefix ≤ 155 bytes and name ≤ 100 bytes (non-empty).
  for (let i = Math.min(155, bytes.length - 2); i > 0; i--) {
    if (bytes[i] === 0x2f && bytes.length - i - 1 <= 100) {
      return [bytes.subarray(0, i), bytes.subarray(i + 1)];
    }
  }
  return undefined;
}

interface Block {
  typeflag: string;
  name: Uint8Array;
  prefix?: Uint8Array;
  linkname?: Uint8Array;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  uname?: Uint8Array;
  gname?: Uint8Array;
  devmajor?: number;
  devminor?: number;
  gnu: boolean;
}

function headerBlock(h: Block): Uint8Array {
  const block = new Uint8Array(TAR_BLOCK);
  writeString(block, F.name, h.name);
  const numeric: Array<[keyof typeof F, number]> = [
    ["mode", h.mode],
    ["uid", h.uid],
    ["gid", h.gid],
    ["size", h.size],
    ["mtime", h.mtime],
  ];
  if (h.devmajor !== undefined) numeric.push(["devmajor", h.devmajor]);
  if (h.devminor !== undefined) numeric.push(["devminor", h.devminor]);
  for (const [field, value] of numeric) {
    const spec = F[field];
    if (value >= 0 && value <= octalMax(spec[1]) && Number.isInteger(value)) {
      writeOctal(block, spec, value);
    } else if (h.gnu) {
      writeBase256(block, spec, value);
    } else {
      // Callers put the real value in a pax record; the ustar field holds a placeholder.
      writeOctal(block, spec, value < 0 ? 0 : Math.min(Math.trunc(value), octalMax(spec[1])));
    }
  }
  block[F.typeflag[0]] = h.typeflag.charCodeAt(0);
  if (h.linkname) writeString(block, F.linkname, h.linkname);
  if (h.gnu) {
    block.set(encoder.encode("ustar  \0"), F.magic[0]);
  } else {
    block.set(encoder.encode("ustar\x0000"), F.magic[0]);
    if (h.prefix) writeString(block, F.prefix, h.prefix);
  }
  if (h.uname) writeString(block, F.uname, h.uname);
  if (h.gname) writeString(block, F.gname, h.gname);
  // Checksum: sum of all bytes with the checksum field counted as spaces.
  block.fill(0x20, F.chksum[0], F.chksum[0] + F.chksum[1]);
  let sum = 0;
  for (let i = 0; i < TAR_BLOCK; i++) sum += block[i];
  const digits = sum.toString(8).padStart(6, "0");
  for (let i = 0; i < 6; i++) block[F.chksum[0] + i] = digits.charCodeAt(i);
  block[F.chksum[0] + 6] = 0;
  block[F.chksum[0] + 7] = 0x20;
  return block;
}

/** A header plus its data, padded: used for pax and GNU long-name pseudo entries. */
function metaEntry(typeflag: string, name: string, data: Uint8Array, gnu: boolean): Uint8Array {
  const header = headerBlock({
    typeflag,
    name: encoder.encode(name).subarray(0, 100),
    mode: gnu ? 0 : 0o644,
    uid: 0,
    gid: 0,
    size: data.length,
    mtime: 0,
    gnu,
  });
  return concat([header, data, tarPadding(data.length)]);
}

function fail(name: string, what: string): never {
  throw new InvalidArgumentError(`Cannot write tar entry "${name}": ${what}`);
}

/** Encodes the pax global header `records` (applies to every later entry when read). */
export function encodeTarGlobalHeader(records: Record<string, string>): Uint8Array {
  const body = concat(Object.entries(records).map(([k, v]) => paxRecord(k, v)));
  return metaEntry("g", "pax_global_header", body, false);
}

/**
 * Encodes every header block of one entry: pax or GNU long-name pseudo entries as needed, then
 * the ustar header. The entry's data (exactly `size` bytes) and {@link tarPadding} follow it.
 */
export function encodeTarHeader(entry: TarWriterEntry, options: TarWriterOptions = {}): Uint8Array {
  const format = entry.format ?? options.format ?? "pax";
  const type = entry.type ?? "file";
  const typeflag = TYPEFLAG[type];
  if (typeflag === undefined) fail(entry.name, `unknown type "${type}"`);
  const data = entry.data === undefined ? undefined : toBytes(entry.data);
  const size = entry.size ?? data?.length ?? 0;
  if (data !== undefined && data.length !== size) {
    fail(entry.name, `size ${size} does not match the ${data.length} data bytes`);
  }
  if (size !== 0 && type !== "file" && type !== "contiguous") {
    fail(entry.name, `a ${type} entry carries no data`);
  }
  let name = entry.name;
  if (type === "dir" && !name.endsWith("/")) name += "/";
  const gnu = format === "gnu";
  const pax: Array<[string, string | Uint8Array]> = [];
  const pre: Uint8Array[] = [];

  const nameBytes = encoder.encode(name);
  let headerName: Uint8Array = nameBytes.subarray(0, 100);
  let prefix: Uint8Array | undefined;
  const split = gnu
    ? (nameBytes.length <= 100 ? [new Uint8Array(0), nameBytes] : undefined)
    : splitUstar(nameBytes);
  if (split) {
    [prefix, headerName] = split;
  } else if (format === "pax") {
    pax.push(["path", name]);
  } else if (gnu) {
    pre.push(metaEntry("L", "././@LongLink", concat([nameBytes, new Uint8Array(1)]), true));
  } else {
    fail(name, "the name is longer than ustar allows");
  }

  const linkBytes = entry.linkname === undefined ? undefined : encoder.encode(entry.linkname);
  if ((type === "symlink" || type === "hardlink") && linkBytes === undefined) {
    fail(name, "a link needs a linkname");
  }
  if (linkBytes && linkBytes.length > 100) {
    if (format === "pax") pax.push(["linkpath", entry.linkname!]);
    else if (gnu) {
      pre.push(metaEntry("K", "././@LongLink", concat([linkBytes, new Uint8Array(1)]), true));
    } else fail(name, "the linkname is longer than ustar allows");
  }

  const numbers: Array<[string, number, number]> = [
    ["uid", entry.uid ?? 0, 8],
    ["gid", entry.gid ?? 0, 8],
    ["size", size, 12],
  ];
  for (const [key, value, len] of numbers) {
    if (!Number.isSafeInteger(value) || value < 0) fail(name, `invalid ${key} ${value}`);
    if (value > octalMax(len)) {
      if (format === "pax") pax.push([key, String(value)]);
      else if (!gnu) fail(name, `${key} ${value} does not fit a ustar header`);
    }
  }
  const mtime = entry.mtime ?? 0;
  if (!Number.isFinite(mtime)) fail(name, `invalid mtime ${mtime}`);
  if (!Number.isInteger(mtime) || mtime < 0 || mtime > octalMax(12)) {
    if (format === "pax") pax.push(["mtime", formatPaxTime(mtime)]);
    else if (!gnu && !Number.isInteger(mtime)) {
      // ustar cannot carry sub-second times; truncation is what tar does.
    } else if (!gnu) fail(name, `mtime ${mtime} does not fit a ustar header`);
  }
  const uname = encoder.encode(entry.uname ?? "");
  const gname = encoder.encode(entry.gname ?? "");
  if (uname.length > 32) {
    if (format === "pax") pax.push(["uname", entry.uname!]);
    else fail(name, "the user name is longer than 32 bytes");
  }
  if (gname.length > 32) {
    if (format === "pax") pax.push(["gname", entry.gname!]);
    else fail(name, "the group name is longer than 32 bytes");
  }
  for (const [k, v] of Object.entries(entry.xattrs ?? {})) pax.push([`SCHILY.xattr.${k}`, v]);
  for (const [k, v] of Object.entries(entry.pax ?? {})) pax.push([k, v]);
  if (pax.length > 0) {
    if (format === "ustar") fail(name, "needs pax records, which ustar format cannot carry");
    const body = concat(pax.map(([k, v]) => paxRecord(k, v)));
    const base = name.replace(/\/+$/, "").split("/").pop() ?? "";
    pre.push(metaEntry("x", `PaxHeaders.0/${base}`.slice(0, 99), body, false));
  }

  const isDev = type === "char" || type === "block";
  const header = headerBlock({
    typeflag,
    name: headerName,
    prefix,
    linkname: linkBytes?.subarray(0, 100),
    mode: (entry.mode ?? (type === "dir" ? 0o755 : 0o644)) & 0o7777,
    uid: entry.uid ?? 0,
    gid: entry.gid ?? 0,
    size,
    mtime: gnu ? Math.floor(mtime) : Math.max(0, Math.floor(mtime)),
    uname: uname.subarray(0, 32),
    gname: gname.subarray(0, 32),
    devmajor: isDev ? entry.devmajor ?? 0 : undefined,
    devminor: isDev ? entry.devminor ?? 0 : undefined,
    gnu,
  });
  pre.push(header);
  return pre.length === 1 ? header : concat(pre);
}

/** Seconds as a pax decimal time, without float noise beyond nanoseconds. */
function formatPaxTime(seconds: number): string {
  if (Number.isInteger(seconds)) return String(seconds);
  const neg = seconds < 0;
  const abs = Math.abs(seconds);
  const whole = Math.floor(abs);
  const frac = Math.round((abs - whole) * 1e9);
  const text = frac >= 1e9
    ? String(whole + 1)
    : `${whole}.${String(frac).padStart(9, "0").replace(/0+$/, "")}`;
  return (neg ? "-" : "") + text.replace(/\.$/, "");
}

/** Builds a tar archive in memory. Use {@link tarStream} for big contents. */
export class TarWriter {
  readonly #parts: Uint8Array[] = [];
  readonly #options: TarWriterOptions;
  #finished = false;

  /** An empty archive; `options.format` is the default header format. */
  constructor(options: TarWriterOptions = {}) {
    this.#options = options;
  }

  /** Appends one entry (headers, data and padding). */
  add(entry: TarWriterEntry): this {
    if (this.#finished) throw new InvalidArgumentError("Cannot add to a finished tar archive");
    this.#parts.push(encodeTarHeader(entry, this.#options));
    if (entry.data !== undefined) {
      const data = toBytes(entry.data);
      this.#parts.push(data, tarPadding(data.length));
    } else if ((entry.size ?? 0) > 0) {
      fail(entry.name, "size given without data (use tarStream for streamed contents)");
    }
    return this;
  }

  /** Appends a pax global header whose records apply to every later entry. */
  addGlobal(records: Record<string, string>): this {
    this.#parts.push(encodeTarGlobalHeader(records));
    return this;
  }

  /** Appends raw bytes (for tests that build malformed archives). */
  addRaw(bytes: Uint8Array): this {
    this.#parts.push(bytes);
    return this;
  }

  /** Appends the end-of-archive marker and returns the whole archive. */
  finish(options: { trailer?: boolean } = {}): Uint8Array {
    if (!this.#finished && options.trailer !== false) this.#parts.push(tarTrailer());
    this.#finished = true;
    return concat(this.#parts);
  }
}

/** Contents of a streamed entry. */
export type TarBody = Uint8Array | string | AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>;

/** An entry for {@link tarStream}: `size` is required when `body` is streamed. */
export interface TarStreamEntry extends Omit<TarWriterEntry, "data"> {
  /** Contents; its total length must equal `size`. */
  body?: TarBody;
}

/**
 * Streams a tar archive from `entries` with bounded memory: each body is passed through in
 * the chunks it arrives in. A body whose length differs from its `size` fails the stream.
 */
export function tarStream(
  entries: Iterable<TarStreamEntry> | AsyncIterable<TarStreamEntry>,
  options: TarWriterOptions = {},
): ReadableStream<Uint8Array> {
  async function* generate(): AsyncGenerator<Uint8Array> {
    for await (const entry of entries) {
      const body = entry.body;
      if (body === undefined || typeof body === "string" || body instanceof Uint8Array) {
        const data = body === undefined ? undefined : toBytes(body);
        yield encodeTarHeader({ ...entry, body: undefined, data } as TarWriterEntry, options);
        if (data && data.length > 0) {
          yield data;
          const pad = tarPadding(data.length);
          if (pad.length > 0) yield pad;
        }
        continue;
      }
      const size = entry.size;
      if (size === undefined) fail(entry.name, "a streamed body needs a size");
      yield encodeTarHeader({ ...entry, body: undefined } as TarWriterEntry, options);
      let written = 0;
      for await (const chunk of body as AsyncIterable<Uint8Array>) {
        written += chunk.length;
        if (written > size) fail(entry.name, `body is longer than its size ${size}`);
        if (chunk.length > 0) yield chunk;
      }
      if (written !== size) fail(entry.name, `body has ${written} bytes, expected ${size}`);
      const pad = tarPadding(size);
      if (pad.length > 0) yield pad;
    }
    yield tarTrailer();
  }
  const it = generate();
  return new ReadableStream<Uint8Array>({
    async pull(controller): Promise<void> {
      try {
        const { value, done } = await it.next();
        if (done) controller.close();
        else controller.enqueue(value);
      } catch (err) {
        controller.error(err);
      }
    },
    async cancel(reason): Promise<void> {
      void reason;
      await it.return(undefined).catch(() => {});
    },
  }, { highWaterMark: 0 });
}
