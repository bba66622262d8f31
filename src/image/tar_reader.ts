/**
 * Streaming tar reader. Push-based: feed chunks with {@link TarParser.push}, receive entries and
 * their contents through synchronous callbacks, in the chunks they arrived in (never a whole
 * file in memory). Understands ustar, GNU (`L`/`K` long names, base-256 numbers), pax extended
 * and global headers (path, linkpath, uid, gid, uname, gname, size, sub-second mtime,
 * `SCHILY.xattr.*`, `LIBARCHIVE.xattr.*`), and validates every header checksum.
 *
 * npm parsers each drop something image layers need (pax uid/gid, sub-second mtimes, device
 * numbers, xattrs), hence this one. {@link tarEntries} wraps the parser as an async iterator.
 *
 * @module
 */
import { InvalidArgumentError, NotImplementedError } from "../errors.ts";
import { TAR_BLOCK, type TarEntryType } from "./tar_writer.ts";

export type { TarEntryType } from "./tar_writer.ts";

/** A parsed entry header, with pax and GNU extensions already applied. */
export interface TarHeader {
  /** Path as stored (ustar prefix joined, pax/GNU long name applied); not normalised. */
  name: string;
  /** Entry type; `contiguous` (`7`) is reported as `file`. */
  type: TarEntryType;
  /** The raw typeflag character. */
  typeflag: string;
  /** Permission bits including setuid/setgid/sticky (0o7777 mask). */
  mode: number;
  /** Owner uid. */
  uid: number;
  /** Owner gid. */
  gid: number;
  /** Owner user name (may be empty). */
  uname: string;
  /** Owner group name (may be empty). */
  gname: string;
  /** Bytes of data that follow (0 for header-only types). */
  size: number;
  /** Modification time, whole seconds since the epoch (floor). */
  mtime: number;
  /** Nanoseconds to add to `mtime` (0..999999999), from a pax `mtime` record. */
  mtimeNsec: number;
  /** Link target for hardlinks and symlinks, else empty. */
  linkname: string;
  /** Device major number (char/block devices). */
  devmajor: number;
  /** Device minor number (char/block devices). */
  devminor: number;
  /** Extended attributes by name (value bytes as stored). */
  xattrs: Record<string, Uint8Array>;
  /** pax records other than those applied above and xattrs (keys as written). */
  pax: Record<string, string>;
}

/** Callbacks of {@link TarParser}; all synchronous. Chunks are only valid during the call. */
export interface TarHandler {
  /** A new entry starts; its data (if any) follows through `onData`. */
  onEntry(header: TarHeader): void;
  /** A slice of the current entry's data. Copy it to keep it beyond the call. */
  onData?(chunk: Uint8Array): void;
  /** The current entry's data is complete. */
  onEntryEnd?(header: TarHeader): void;
}

/** Limits of {@link TarParser}. */
export interface TarParserOptions {
  /** Largest pax or GNU long-name payload accepted, in bytes; default 16 MiB. */
  maxMetaSize?: number;
}

const decoder = new TextDecoder("utf-8");

const enum State {
  Header,
  Data,
  Padding,
  Meta,
  End,
}

const FLAG_TYPES: Record<string, TarEntryType> = {
  "0": "file",
  "\0": "file",
  "7": "file",
  "1": "hardlink",
  "2": "symlink",
  "3": "char",
  "4": "block",
  "5": "dir",
  "6": "fifo",
};

function invalid(message: string): never {
  throw new InvalidArgumentError(`Cannot read tar archive: ${message}`);
}

/** NUL-terminated string field. */
function readString(buf: Uint8Array, off: number, len: number): string {
  let end = off;
  const max = off + len;
  while (end < max && buf[end] !== 0) end++;
  if (end === off) return "";
  // Fast path for ASCII names, the common case; TextDecoder costs more per call.
  let ascii = true;
  for (let i = off; i < end; i++) {
    if (buf[i] >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) return String.fromCharCode.apply(null, buf.subarray(off, end) as unknown as number[]);
  return decoder.decode(buf.subarray(off, end));
}

/** Numeric field: octal (space/NUL padded) or GNU base-256 when the high bit is set. */
function readNumber(buf: Uint8Array, off: number, len: number, field: string): number {
  const first = buf[off];
  if (first & 0x80) {
    // base-256, big-endian two's complement; 0xff marks a negative number.
    const neg = first === 0xff;
    let v = BigInt(first & 0x7f);
    if (neg) v = BigInt(first);
    for (let i = 1; i < len; i++) v = (v << 8n) | BigInt(buf[off + i]);
    if (neg) v -= 1n << BigInt(len * 8);
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
      invalid(`${field} field out of range`);
    }
    return Number(v);
  }
  let i = off;
  const end = off + len;
  while (i < end && (buf[i] === 0x20 || buf[i] === 0)) i++;
  // A field of only NULs/spaces counts as 0 (some writers leave devmajor/minor empty).
  let v = 0;
  for (; i < end; i++) {
    const c = buf[i];
    if (c === 0 || c === 0x20) break;
    if (c < 0x30 || c > 0x37) invalid(`${field} field is not an octal number`);
    v = v * 8 + (c - 0x30);
  }
  return v;
}

function isZeroBlock(buf: Uint8Array, off: number): boolean {
  for (let i = off; i < off + TAR_BLOCK; i++) if (buf[i] !== 0) return false;
  return true;
}

function checksumOk(buf: Uint8Array, off: number): boolean {
  const stored = readNumber(buf, off + 148, 8, "checksum");
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < TAR_BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : buf[off + i];
    unsigned += b;
    signed += b >= 0x80 ? b - 256 : b;
  }
  return stored === unsigned || stored === signed;
}

/** Parses pax records on bytes (lengths are byte counts). Values stay bytes. */
function parsePax(data: Uint8Array): Array<[string, Uint8Array]> {
  const out: Array<[string, Uint8Array]> = [];
  let pos = 0;
  while (pos < data.length) {
    // Trailing NUL padding after the last record is tolerated.
    if (data[pos] === 0) break;
    let len = 0;
    let i = pos;
    while (i < data.length && data[i] >= 0x30 && data[i] <= 0x39) len = len * 10 + data[i++] - 0x30;
    if (i === pos || data[i] !== 0x20 || len <= i - pos + 1 || pos + len > data.length) {
      invalid("malformed pax record");
    }
    const end = pos + len;
    if (data[end - 1] !== 0x0a) invalid("pax record does not end with a newline");
    let eq = i + 1;
    while (eq < end && data[eq] !== 0x3d) eq++;
    if (eq >= end - 1) invalid("pax record has no '='");
    const key = decoder.decode(data.subarray(i + 1, eq));
    out.push([key, data.subarray(eq + 1, end - 1)]);
    pos = end;
  }
  return out;
}

/** Parses a pax decimal time `[-]S[.F]` into floor seconds and nanoseconds. */
function parsePaxTime(text: string): [number, number] {
  const m = /^(-?)(\d+)(?:\.(\d*))?$/.exec(text);
  if (!m) invalid(`invalid pax time "${text}"`);
  const whole = Number(m[2]);
  const nsec = Number((m[3] ?? "").slice(0, 9).padEnd(9, "0"));
  if (m[1] !== "-") return [whole, nsec];
  return nsec === 0 ? [-whole, 0] : [-whole - 1, 1e9 - nsec];
}

function paxNumber(text: string, key: string): number {
  if (!/^\d+$/.test(text)) invalid(`invalid pax ${key} "${text}"`);
  const n = Number(text);
  if (!Number.isSafeInteger(n)) invalid(`pax ${key} "${text}" is out of range`);
  return n;
}

/** Decodes libarchive's URL-encoded xattr names. */
function decodeLibarchiveName(name: string): string {
  try {
    return decodeURIComponent(name);
  } catch {
    invalid(`invalid LIBARCHIVE.xattr name "${name}"`);
  }
}

function base64Bytes(text: string): Uint8Array {
  try {
    const bin = atob(
      text.replace(/=+$/, "").padEnd(Math.ceil(text.replace(/=+$/, "").length / 4) * 4, "="),
    );
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  } catch {
    invalid("invalid base64 in a LIBARCHIVE.xattr value");
  }
}

/**
 * Push parser for tar archives. Memory stays bounded: one 512-byte header buffer plus pax/GNU
 * metadata payloads (capped by `maxMetaSize`); file data is handed out as slices of the input.
 */
export class TarParser {
  readonly #handler: TarHandler;
  readonly #maxMeta: number;
  #state: State = State.Header;
  readonly #hdr = new Uint8Array(TAR_BLOCK);
  #hdrFill = 0;
  #remaining = 0;
  #padding = 0;
  #current: TarHeader | undefined;
  #zeroBlocks = 0;
  #meta: Uint8Array = new Uint8Array(0);
  #metaFill = 0;
  #metaFlag = "";
  #longName: string | undefined;
  #longLink: string | undefined;
  #pax: Array<[string, Uint8Array]> | undefined;
  readonly #global = new Map<string, Uint8Array>();
  #offset = 0;
  #ended = false;

  /** A parser delivering to `handler`. */
  constructor(handler: TarHandler, options: TarParserOptions = {}) {
    this.#handler = handler;
    this.#maxMeta = options.maxMetaSize ?? 16 * 1024 * 1024;
  }

  /** True once the end-of-archive marker (two zero blocks) has been read. */
  get sawEndMarker(): boolean {
    return this.#state === State.End;
  }

  /** Bytes consumed so far. */
  get offset(): number {
    return this.#offset;
  }

  /** Feeds the next chunk; callbacks run before this returns. */
  push(chunk: Uint8Array): void {
    if (this.#ended) invalid("data pushed after end");
    let pos = 0;
    const len = chunk.length;
    while (pos < len) {
      switch (this.#state) {
        case State.Header: {
          if (this.#hdrFill === 0 && len - pos >= TAR_BLOCK) {
            // Whole header inside the chunk: parse in place, no copy.
            this.#header(chunk, pos);
            pos += TAR_BLOCK;
          } else {
            const n = Math.min(TAR_BLOCK - this.#hdrFill, len - pos);
            this.#hdr.set(chunk.subarray(pos, pos + n), this.#hdrFill);
            this.#hdrFill += n;
            pos += n;
            if (this.#hdrFill === TAR_BLOCK) {
              this.#hdrFill = 0;
              this.#header(this.#hdr, 0);
            }
          }
          break;
        }
        case State.Data: {
          const n = Math.min(this.#remaining, len - pos);
          this.#handler.onData?.(chunk.subarray(pos, pos + n));
          this.#remaining -= n;
          pos += n;
          if (this.#remaining === 0) this.#endEntry();
          break;
        }
        case State.Meta: {
          const n = Math.min(this.#remaining, len - pos);
          this.#meta.set(chunk.subarray(pos, pos + n), this.#metaFill);
          this.#metaFill += n;
          this.#remaining -= n;
          pos += n;
          if (this.#remaining === 0) this.#endMeta();
          break;
        }
        case State.Padding: {
          const n = Math.min(this.#padding, len - pos);
          this.#padding -= n;
          pos += n;
          if (this.#padding === 0) this.#state = State.Header;
          break;
        }
        case State.End:
          // Writers pad archives to a record size (often 10240 bytes) with zeros after the marker.
          this.#offset += len - pos;
          return;
      }
    }
    this.#offset += len;
  }

  /** Signals the end of input; throws when the archive stopped inside a header or entry. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    if (this.#state === State.End) return;
    if (this.#state === State.Header && this.#hdrFill === 0 && this.#pending() === undefined) {
      // Ended cleanly at a block boundary without the end marker (or after one zero block).
      // Go's archive/tar accepts this too; the layer's diffID check still guards integrity.
      return;
    }
    invalid(
      this.#state === State.Data
        ? `unexpected end of data in "${this.#current?.name}"`
        : `unexpected end of archive at byte ${this.#offset}`,
    );
  }

  #pending(): string | undefined {
    if (this.#longName !== undefined || this.#longLink !== undefined || this.#pax !== undefined) {
      return "extension header without an entry";
    }
    return undefined;
  }

  #header(buf: Uint8Array, off: number): void {
    if (buf[off] === 0 && isZeroBlock(buf, off)) {
      this.#zeroBlocks++;
      if (this.#zeroBlocks === 2) {
        if (this.#pending()) invalid("extension header without an entry");
        this.#state = State.End;
      }
      return;
    }
    if (this.#zeroBlocks > 0) invalid(`unexpected zero block at byte ${this.#offset}`);
    if (!checksumOk(buf, off)) invalid(`bad header checksum at byte ${this.#offset}`);
    const flag = String.fromCharCode(buf[off + 156]);
    const size = readNumber(buf, off + 124, 12, "size");
    if (size < 0) invalid("negative entry size");

    if (flag === "x" || flag === "g" || flag === "L" || flag === "K") {
      if (size > this.#maxMeta) invalid(`${flag} header of ${size} bytes exceeds the limit`);
      this.#metaFlag = flag;
      this.#meta = new Uint8Array(size);
      this.#metaFill = 0;
      this.#remaining = size;
      this.#padding = padOf(size);
      if (size === 0) this.#endMeta();
      else this.#state = State.Meta;
      return;
    }

    const magicUstar = buf[off + 257] === 0x75 && buf[off + 262] === 0 && buf[off + 261] === 0x72;
    let name = readString(buf, off, 100);
    if (magicUstar && buf[off + 345] !== 0) name = readString(buf, off + 345, 155) + "/" + name;
    let type = FLAG_TYPES[flag];
    if (type === undefined) {
      if (flag === "S" || flag === "M") {
        throw new NotImplementedError(
          `Cannot read tar entry "${name}": GNU sparse and multi-volume entries are not supported`,
        );
      }
      // GNU dumpdir is a directory; anything else unknown is treated as a regular file, as
      // POSIX asks readers to do.
      type = flag === "D" ? "dir" : "file";
    }
    const header: TarHeader = {
      name,
      type,
      typeflag: flag,
      mode: readNumber(buf, off + 100, 8, "mode") & 0o7777,
      uid: readNumber(buf, off + 108, 8, "uid"),
      gid: readNumber(buf, off + 116, 8, "gid"),
      uname: readString(buf, off + 265, 32),
      gname: readString(buf, off + 297, 32),
      size,
      mtime: readNumber(buf, off + 136, 12, "mtime"),
      mtimeNsec: 0,
      linkname: readString(buf, off + 157, 100),
      devmajor: type === "char" || type === "block" ? readNumber(buf, off + 329, 8, "devmajor") : 0,
      devminor: type === "char" || type === "block" ? readNumber(buf, off + 337, 8, "devminor") : 0,
      xattrs: {},
      pax: {},
    };
    if (this.#longName !== undefined) header.name = this.#longName;
    if (this.#longLink !== undefined) header.linkname = this.#longLink;
    this.#longName = undefined;
    this.#longLink = undefined;
    const local = this.#pax;
    this.#pax = undefined;
    if (this.#global.size > 0 || local) this.#applyPax(header, local);
    // Header-only types carry no data whatever the size field says (as Go's archive/tar does).
    if (type !== "file" && flag !== "D") header.size = 0;
    this.#current = header;
    this.#handler.onEntry(header);
    this.#remaining = header.size;
    this.#padding = padOf(header.size);
    if (header.size === 0) this.#endEntry();
    else this.#state = State.Data;
  }

  #applyPax(header: TarHeader, local: Array<[string, Uint8Array]> | undefined): void {
    const records = new Map(this.#global);
    for (const [k, v] of local ?? []) records.set(k, v);
    for (const [key, raw] of records) {
      if (raw.length === 0) continue; // an empty value deletes the keyword
      if (key.startsWith("SCHILY.xattr.")) {
        header.xattrs[key.slice(13)] = raw.slice();
        continue;
      }
      if (key.startsWith("LIBARCHIVE.xattr.")) {
        header.xattrs[decodeLibarchiveName(key.slice(17))] = base64Bytes(decoder.decode(raw));
        continue;
      }
      const value = decoder.decode(raw);
      switch (key) {
        case "path":
          header.name = value;
          break;
        case "linkpath":
          header.linkname = value;
          break;
        case "uid":
          header.uid = paxNumber(value, key);
          break;
        case "gid":
          header.gid = paxNumber(value, key);
          break;
        case "uname":
          header.uname = value;
          break;
        case "gname":
          header.gname = value;
          break;
        case "size":
          header.size = paxNumber(value, key);
          break;
        case "mtime":
          [header.mtime, header.mtimeNsec] = parsePaxTime(value);
          break;
        case "SCHILY.devmajor":
          header.devmajor = paxNumber(value, key);
          break;
        case "SCHILY.devminor":
          header.devminor = paxNumber(value, key);
          break;
        default:
          if (key.startsWith("GNU.sparse.")) {
            throw new NotImplementedError(
              `Cannot read tar entry "${header.name}": GNU sparse files are not supported`,
            );
          }
          header.pax[key] = value;
      }
    }
  }

  #endMeta(): void {
    const data = this.#meta;
    this.#meta = new Uint8Array(0);
    switch (this.#metaFlag) {
      case "x":
        this.#pax = [...(this.#pax ?? []), ...parsePax(data)];
        break;
      case "g":
        for (const [k, v] of parsePax(data)) {
          if (v.length === 0) this.#global.delete(k);
          else this.#global.set(k, v.slice());
        }
        break;
      case "L":
      case "K": {
        let end = data.indexOf(0);
        if (end < 0) end = data.length;
        const text = decoder.decode(data.subarray(0, end));
        if (this.#metaFlag === "L") this.#longName = text;
        else this.#longLink = text;
        break;
      }
    }
    this.#state = this.#padding > 0 ? State.Padding : State.Header;
  }

  #endEntry(): void {
    const header = this.#current!;
    this.#current = undefined;
    this.#handler.onEntryEnd?.(header);
    this.#state = this.#padding > 0 ? State.Padding : State.Header;
  }
}

function padOf(size: number): number {
  const rem = size % TAR_BLOCK;
  return rem === 0 ? 0 : TAR_BLOCK - rem;
}

/** One entry of {@link tarEntries}: read `body` fully (or not at all) before the next entry. */
export interface TarEntry {
  /** The entry's header. */
  header: TarHeader;
  /** The entry's data in chunks (each chunk is a private copy). */
  body: AsyncIterable<Uint8Array>;
}

/**
 * Iterates the entries of a tar stream. Memory stays bounded by one input chunk: an entry's
 * body is the data of the input chunks that carry it. Skipping a body is allowed.
 */
export async function* tarEntries(
  source: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>,
  options: TarParserOptions = {},
): AsyncGenerator<TarEntry> {
  type Event = { kind: "entry"; header: TarHeader } | { kind: "data"; chunk: Uint8Array } | {
    kind: "end";
  };
  let queue: Event[] = [];
  const parser = new TarParser({
    onEntry: (header) => queue.push({ kind: "entry", header }),
    onData: (chunk) => queue.push({ kind: "data", chunk: chunk.slice() }),
    onEntryEnd: () => queue.push({ kind: "end" }),
  }, options);
  const input = (source as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
  let inputDone = false;
  // Pulls input until at least one event is queued (or input ends).
  const fill = async (): Promise<boolean> => {
    while (queue.length === 0) {
      if (inputDone) return false;
      const { value, done } = await input.next();
      if (done) {
        inputDone = true;
        parser.end();
      } else parser.push(value);
    }
    return true;
  };
  try {
    while (await fill()) {
      const ev = queue.shift()!;
      // Data and end events here belong to a body the consumer skipped: drop them.
      if (ev.kind !== "entry") continue;
      let finished = false;
      const body = (async function* (): AsyncGenerator<Uint8Array> {
        while (!finished && await fill()) {
          const next = queue[0];
          if (next.kind === "entry") return;
          queue.shift();
          if (next.kind === "end") {
            finished = true;
            return;
          }
          yield next.chunk;
        }
      })();
      yield { header: ev.header, body };
    }
  } finally {
    queue = [];
    if (!inputDone) await input.return?.();
  }
}
