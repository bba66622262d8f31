/**
 * Layer applier: decompresses a layer, hashes the uncompressed tar (its diffID) and extracts it
 * into a directory, all in one streaming pass. OCI whiteouts become overlay whiteouts
 * (`.wh.<name>` → char device 0:0, `.wh..wh..opq` → `trusted.overlay.opaque=y`), so the result is
 * usable as an overlay lowerdir.
 *
 * Containment: nothing is created or written outside the destination. Names are cleaned
 * lexically (leading `/` stripped; a `..` that climbs above the root fails the layer), and every
 * parent component is resolved inside the root one by one with lstat, symlinks included, as if
 * the root were `/` (chroot semantics). The last component is never followed: files are created
 * with O_EXCL|O_NOFOLLOW after whatever was there is removed.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { InternalError, InvalidArgumentError } from "../errors.ts";
import { type TarHandler, type TarHeader, TarParser } from "../image/tar_reader.ts";
import { compressionOf, type DecoderFactory, decompress, decompressInto } from "./decompress.ts";
import { errorCode, type LayerFs } from "./layer_fs.ts";

/** Options of {@link applyLayer}. */
export interface ApplyLayerOptions {
  /** Layer media type (decides decompression; checked against magic bytes). */
  mediaType: string;
  /** File system operations (the engine passes `HostLayerFs`). */
  fs: LayerFs;
  /** Cancels the apply; the partial directory is the caller's to discard. */
  signal?: AbortSignal;
  /** Called with the running count of uncompressed bytes after each chunk. */
  onProgress?: (uncompressedBytes: number) => void;
  /** Synchronous decoders to use instead of node:zlib (the host passes native ones). */
  decoders?: DecoderFactory;
}

/** Result of {@link applyLayer}. */
export interface ApplyLayerResult {
  /** `sha256:<hex>` of the uncompressed tar stream. */
  diffId: string;
  /** Bytes of the uncompressed tar stream. */
  size: number;
  /** Entries applied (headers, whiteouts included). */
  entries: number;
  /** Non-fatal problems (xattrs the file system refused), one line each. */
  warnings: string[];
}

/**
 * Optional {@link LayerFs} extension: a regular file's metadata set through its open handle,
 * which skips three path walks per file (the host one uses fchown/fchmod/futimens).
 */
export interface HandleMetaFs {
  /** fchown, then fchmod (setuid/setgid/sticky included), then futimens; closes the handle in
   * every case. */
  finishFile(
    handle: number,
    uid: number,
    gid: number,
    mode: number,
    atime: [number, number],
    mtime: [number, number],
  ): void;
}

function hasHandleMeta(fs: LayerFs): fs is LayerFs & HandleMetaFs {
  return typeof (fs as Partial<HandleMetaFs>).finishFile === "function";
}

/** Options of {@link LayerApplier.applyLayer}: those of {@link applyLayer} without the `fs`. */
export type RemoteApplyOptions = Omit<ApplyLayerOptions, "fs">;

/**
 * Applies whole layers elsewhere, e.g. on a Worker thread so that several layers extract on
 * several cores at once (the extraction syscalls are synchronous and CPU-bound). A
 * {@link LayerFs} that also implements this (the host one does) is used so by `LayerStore`.
 * Same contract as {@link applyLayer}; in addition, when the returned promise settles, nothing
 * touches `destDir` any more, so the caller may remove it at once.
 */
export interface LayerApplier {
  /** Decompresses, hashes and extracts `stream` into `destDir` (which must exist). */
  applyLayer(
    stream: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
    destDir: string,
    options: RemoteApplyOptions,
  ): Promise<ApplyLayerResult>;
  /**
   * Optional, best effort: tells the file system that every directory created directly in
   * `dir` starts a new hierarchy (ext4's `chattr +T`), so each layer gets a block group of its
   * own instead of crowding, with every other layer, the group of the store's tmp directory.
   */
  markTopDir?(dir: string): void;
}

/** True when `x` offers {@link LayerApplier.applyLayer}. */
export function isLayerApplier(x: unknown): x is LayerApplier {
  return typeof x === "object" && x !== null &&
    typeof (x as { applyLayer?: unknown }).applyLayer === "function";
}

/**
 * Decompresses, hashes and extracts a layer into `destDir` (which must exist) in one pass.
 * Throws on any malformed or malicious input; the caller discards `destDir` then.
 */
export async function applyLayer(
  stream: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
  destDir: string,
  options: ApplyLayerOptions,
): Promise<ApplyLayerResult> {
  options.signal?.throwIfAborted();
  const extractor = new LayerExtractor(destDir, options.fs);
  const parser = new TarParser(extractor);
  const hash = createHash("sha256");
  let size = 0;
  const compression = compressionOf(options.mediaType);
  const decoder = compression === "none" ? undefined : options.decoders?.(compression);
  try {
    if (decoder) {
      // One synchronous pass per input chunk: decode into a reused buffer, hash, extract.
      await decompressInto(stream, options, decoder, (out) => {
        hash.update(out);
        size += out.length;
        parser.push(out);
        options.onProgress?.(size);
      });
      parser.end();
      extractor.finish();
      return {
        diffId: `sha256:${hash.digest("hex")}`,
        size,
        entries: extractor.entries,
        warnings: extractor.warnings,
      };
    }
    for await (const chunk of decompress(stream, options)) {
      options.signal?.throwIfAborted();
      hash.update(chunk);
      size += chunk.length;
      parser.push(chunk);
      options.onProgress?.(size);
    }
    parser.end();
    extractor.finish();
  } finally {
    extractor.closeOpen();
  }
  return {
    diffId: `sha256:${hash.digest("hex")}`,
    size,
    entries: extractor.entries,
    warnings: extractor.warnings,
  };
}

const MAX_SYMLINKS = 40;
const WHITEOUT = ".wh.";
const OPAQUE = ".wh..wh..opq";

/** Lexically cleaned components of a tar name; undefined when `..` climbs above the root. */
export function cleanPath(name: string): string[] | undefined {
  const out: string[] = [];
  for (const part of name.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (out.length === 0) return undefined;
      out.pop();
    } else out.push(part);
  }
  return out;
}

/**
 * Extracts tar entries into a root directory; a {@link TarHandler} for {@link TarParser}.
 * Synchronous: each callback finishes its file system work before returning.
 */
export class LayerExtractor implements TarHandler {
  /** Entries applied so far. */
  entries = 0;
  /** Non-fatal problems, one line each. */
  readonly warnings: string[] = [];
  readonly #root: string;
  readonly #fs: LayerFs;
  readonly #handleMeta: (LayerFs & HandleMetaFs) | undefined;
  /** Cleaned relative dir path → real directory path inside the root (verified, not a link). */
  readonly #dirs = new Map<string, string>();
  /** Directory mtimes, applied last (writing into a directory changes its mtime). */
  readonly #dirTimes = new Map<string, { atime: [number, number]; mtime: [number, number] }>();
  #handle: number | undefined;
  #filePath = "";
  #fileHeader: TarHeader | undefined;

  /** Extracts into `root` (an existing directory) through `fs`. */
  constructor(root: string, fs: LayerFs) {
    this.#root = root.replace(/\/+$/, "") || "/";
    this.#fs = fs;
    this.#handleMeta = hasHandleMeta(fs) ? fs : undefined;
  }

  /** Creates the entry (files get their data through {@link onData}). */
  onEntry(h: TarHeader): void {
    this.entries++;
    try {
      this.#entry(h);
    } catch (err) {
      throw wrap(h.name, err);
    }
  }

  /** Writes file data. */
  onData(chunk: Uint8Array): void {
    if (this.#handle === undefined) return;
    try {
      this.#fs.write(this.#handle, chunk);
    } catch (err) {
      throw wrap(this.#fileHeader?.name ?? "", err);
    }
  }

  /** Closes a file and applies its metadata. */
  onEntryEnd(h: TarHeader): void {
    if (this.#handle === undefined) return;
    const handle = this.#handle;
    this.#handle = undefined;
    try {
      if (this.#handleMeta && !hasXattrs(h)) {
        const mtime: [number, number] = [h.mtime, h.mtimeNsec];
        this.#handleMeta.finishFile(
          handle,
          h.uid,
          h.gid,
          h.mode,
          paxTime(h.pax.atime) ?? mtime,
          mtime,
        );
        return;
      }
      this.#fs.close(handle);
      this.#metadata(this.#filePath, h, false);
    } catch (err) {
      throw wrap(h.name, err);
    }
  }

  /** Applies the deferred directory times; call after the last entry. */
  finish(): void {
    for (const [path, t] of this.#dirTimes) {
      if (this.#fs.lstat(path)?.type !== "dir") continue; // replaced later in the layer
      try {
        this.#fs.lutimes(path, t.atime, t.mtime);
      } catch (err) {
        throw wrap(path, err);
      }
    }
    this.#dirTimes.clear();
  }

  /** Closes a file left open by an error. */
  closeOpen(): void {
    if (this.#handle === undefined) return;
    try {
      this.#fs.close(this.#handle);
    } catch {
      // already failing; the directory is discarded
    }
    this.#handle = undefined;
  }

  #entry(h: TarHeader): void {
    const parts = cleanPath(h.name);
    if (parts === undefined) {
      throw new InvalidArgumentError(`Cannot extract "${h.name}": the path escapes the layer`);
    }
    if (parts.length === 0) {
      // The layer root itself ("./"): only its metadata applies.
      if (h.type !== "dir") {
        throw new InvalidArgumentError(
          `Cannot extract "${h.name}": a ${h.type} cannot replace the layer root`,
        );
      }
      this.#metadata(this.#root, h, false);
      return;
    }
    const base = parts[parts.length - 1];
    const parentRel = parts.slice(0, -1);

    if (base.startsWith(WHITEOUT)) {
      this.#whiteout(h, parentRel, base);
      return;
    }
    const parent = this.#resolveDir(parentRel, true);
    const path = `${parent}/${base}`;
    const fs = this.#fs;
    // Files, directories and symlinks are created first and only looked at when something is
    // in the way (EEXIST): in a fresh layer that saves an lstat per entry.
    switch (h.type) {
      case "file":
      case "contiguous":
        this.#handle = this.#make(path, h, () => fs.createFile(path, 0o600));
        this.#filePath = path;
        this.#fileHeader = h;
        // onEntryEnd applies metadata and closes it.
        return;
      case "dir":
        this.#make(path, h, () => fs.mkdir(path, 0o700));
        this.#metadata(path, h, false);
        return;
      case "symlink":
        this.#make(path, h, () => fs.symlink(h.linkname, path));
        this.#metadata(path, h, true);
        return;
    }
    const existing = fs.lstat(path);
    if (existing) this.#remove(path);
    switch (h.type) {
      case "hardlink": {
        const target = this.#resolveLinkTarget(h);
        fs.link(target, path);
        // A hardlink shares the target's inode: its metadata is the target's.
        return;
      }
      case "char":
      case "block":
        fs.mknod(path, h.type, 0o600, h.devmajor, h.devminor);
        break;
      case "fifo":
        fs.mknod(path, "fifo", 0o600, 0, 0);
        break;
    }
    this.#metadata(path, h, false);
  }

  /**
   * Runs `create`; on EEXIST removes what is there and runs it once more, except that an
   * existing directory stays when a directory is wanted (its metadata is then updated).
   */
  #make<T>(path: string, h: TarHeader, create: () => T): T {
    try {
      return create();
    } catch (err) {
      if (errorCode(err) !== "EEXIST") throw err;
    }
    const existing = this.#fs.lstat(path);
    if (existing?.type === "dir" && h.type === "dir") return undefined as T;
    if (existing) this.#remove(path);
    return create();
  }

  #whiteout(h: TarHeader, parentRel: string[], base: string): void {
    const parent = this.#resolveDir(parentRel, true);
    if (base === OPAQUE) {
      this.#fs.lsetxattr(parent, "trusted.overlay.opaque", new TextEncoder().encode("y"));
      return;
    }
    if (base.startsWith(WHITEOUT + WHITEOUT)) return; // aufs metadata (.wh..wh.plnk, …): ignored
    const name = base.slice(WHITEOUT.length);
    if (name === "" || name === "." || name === "..") {
      throw new InvalidArgumentError(`Cannot extract "${h.name}": invalid whiteout`);
    }
    const path = `${parent}/${name}`;
    if (this.#fs.lstat(path)) this.#remove(path);
    this.#fs.mknod(path, "char", 0, 0, 0);
    this.#fs.lchown(path, h.uid, h.gid);
  }

  /**
   * Resolves relative directory components inside the root, following symlinks as if the root
   * were `/`, and returns the real directory path. Missing directories are created (0755) when
   * `create`, else NotFound-like errors are thrown.
   */
  #resolveDir(parts: string[], create: boolean): string {
    const key = parts.join("/");
    const cached = this.#dirs.get(key);
    if (cached !== undefined) return cached;
    const fs = this.#fs;
    const cur: string[] = [];
    const queue = parts.slice();
    let links = 0;
    while (queue.length > 0) {
      const c = queue.shift()!;
      if (c === "" || c === ".") continue;
      if (c === "..") {
        cur.pop(); // at the root, ".." stays at the root
        continue;
      }
      const path = this.#join(cur, c);
      const st = fs.lstat(path);
      if (st === undefined) {
        if (!create) {
          throw new InvalidArgumentError(`Cannot resolve "${key}": "${c}" does not exist`);
        }
        fs.mkdir(path, 0o755);
        fs.chmod(path, 0o755); // umask may have narrowed it
        cur.push(c);
      } else if (st.type === "dir") {
        cur.push(c);
      } else if (st.type === "symlink") {
        if (++links > MAX_SYMLINKS) {
          throw new InvalidArgumentError(`Cannot resolve "${key}": too many symbolic links`);
        }
        const target = fs.readlink(path);
        if (target.startsWith("/")) cur.length = 0;
        queue.unshift(...target.split("/"));
      } else {
        throw new InvalidArgumentError(`Cannot resolve "${key}": "${c}" is not a directory`);
      }
    }
    const real = cur.length === 0 ? this.#root : this.#join(cur.slice(0, -1), cur[cur.length - 1]);
    this.#dirs.set(key, real);
    return real;
  }

  #join(cur: string[], name: string): string {
    const rel = cur.length === 0 ? name : `${cur.join("/")}/${name}`;
    return this.#root === "/" ? `/${rel}` : `${this.#root}/${rel}`;
  }

  #resolveLinkTarget(h: TarHeader): string {
    const parts = cleanPath(h.linkname);
    if (parts === undefined || parts.length === 0) {
      throw new InvalidArgumentError(
        `Cannot extract "${h.name}": hardlink target "${h.linkname}" escapes the layer`,
      );
    }
    const dir = this.#resolveDir(parts.slice(0, -1), false);
    const target = `${dir}/${parts[parts.length - 1]}`;
    const st = this.#fs.lstat(target);
    if (st === undefined) {
      throw new InvalidArgumentError(
        `Cannot extract "${h.name}": hardlink target "${h.linkname}" does not exist`,
      );
    }
    if (st.type === "dir") {
      throw new InvalidArgumentError(
        `Cannot extract "${h.name}": hardlink target "${h.linkname}" is a directory`,
      );
    }
    return target;
  }

  #remove(path: string): void {
    this.#fs.removeAll(path);
    // Any cached resolution may have gone through what was removed.
    this.#dirs.clear();
  }

  #metadata(path: string, h: TarHeader, symlink: boolean): void {
    const fs = this.#fs;
    // chown first: the kernel clears setuid/setgid and security.capability on chown.
    fs.lchown(path, h.uid, h.gid);
    if (!symlink) fs.chmod(path, h.mode);
    for (const [name, value] of Object.entries(h.xattrs)) {
      try {
        fs.lsetxattr(path, name, value);
      } catch (err) {
        const code = errorCode(err);
        // As docker does: a file system without xattr support is a warning, not a failure.
        if (code === "EOPNOTSUPP" || code === "ENOTSUP" || code === "EPERM") {
          this.warnings.push(`Ignored xattr "${name}" on "${h.name}": ${code}`);
        } else throw err;
      }
    }
    const mtime: [number, number] = [h.mtime, h.mtimeNsec];
    const atime = paxTime(h.pax.atime) ?? mtime;
    if (h.type === "dir") this.#dirTimes.set(path, { atime, mtime });
    else fs.lutimes(path, atime, mtime);
  }
}

function hasXattrs(h: TarHeader): boolean {
  for (const _ in h.xattrs) return true;
  return false;
}

function paxTime(text: string | undefined): [number, number] | undefined {
  if (text === undefined) return undefined;
  const m = /^(\d+)(?:\.(\d*))?$/.exec(text);
  if (!m) return undefined;
  return [Number(m[1]), Number((m[2] ?? "").slice(0, 9).padEnd(9, "0"))];
}

function wrap(name: string, err: unknown): Error {
  if (err instanceof InvalidArgumentError || err instanceof InternalError) return err as Error;
  const code = errorCode(err);
  const detail = err instanceof Error ? err.message : String(err);
  return new InternalError(
    `Cannot extract "${name}"${code && !detail.includes(code) ? `: ${code}` : ""}`,
    { cause: err },
  );
}
