/**
 * Container logs in Docker's json-file format, fed from append-only raw files.
 *
 * A detached container's stdout and stderr are `O_APPEND` files in its directory
 * (`stdout.raw`, `stderr.raw`): the kernel keeps writing them whoever supervises the container,
 * so output produced while the daemon is down is never lost. A converter turns the bytes past a
 * persisted offset into `<id>-json.log` lines (`{"log":"…\n","stream":"stdout","time":"…"}`),
 * rotating with `max-size`/`max-file`. Readers (`docker logs`) read the json files, then the
 * unconverted tail of the raw files — under the same lock the converter takes, so no line is
 * shown twice or missed.
 *
 * Crash safety of the converter: it appends json lines, then atomically records the new raw
 * offsets together with the json file's size. A converter that died between the two leaves a
 * json file longer than recorded: the next run truncates it back to the recorded size before
 * converting again, so nothing is duplicated.
 *
 * @module
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { InternalError, InvalidArgumentError } from "../errors.ts";
import { atomicWriteJsonSync } from "../util/atomic_write.ts";
import { withLock } from "./lock.ts";
import { releaseConverted } from "../runtime/log_space.ts";

/** The two output streams of a container. */
export type LogStream = "stdout" | "stderr";

/** Raw file names in the container directory. */
export const RAW_FILES: Readonly<Record<LogStream, string>> = {
  stdout: "stdout.raw",
  stderr: "stderr.raw",
};

const STATE_FILE = "log-state.json";
/** Docker splits lines longer than this into several entries. */
const MAX_LINE = 16 * 1024;
/** Bytes converted per stream per pass, so one chatty container cannot stall the daemon. */
const MAX_PASS = 4 * 1024 * 1024;
/**
 * Raw output read at once by a follower, and the least backlog ever dropped (below).
 */
const MAX_BACKLOG = 16 * 1024 * 1024;

/**
 * Unconverted raw output kept at most, per stream. The kernel writes the raw files with no
 * backpressure (docker's json-file instead blocks the writer), so nothing is dropped that docker
 * would keep: without `max-size` nothing at all (the backlog is what the json file would hold
 * anyway); with it, only output older than the rotated files could ever hold (never less than
 * 16 MiB).
 *
 * @example
 * ```ts
 * import { backlogCap } from "./logs.ts";
 * console.assert(backlogCap({ maxFile: 1 }) === Infinity);
 * ```
 */
export function backlogCap(config: LogConfig): number {
  if (config.maxSize === undefined) return Infinity;
  return Math.max(MAX_BACKLOG, config.maxSize * config.maxFile);
}

/** `--log-opt` values docker-ts honours for the json-file driver. */
export interface LogConfig {
  /** Bytes per json file before rotation; undefined: unlimited. */
  maxSize?: number;
  /** Number of json files kept (current included); default 1. */
  maxFile: number;
}

/** A held append descriptor on one raw file (see {@link ContainerLogs.openAppender}). */
export interface RawAppender {
  /** Appends all of `data` (throws on a write error, e.g. ENOSPC). */
  write(data: Uint8Array): void;
  /** Closes the descriptor; later writes do nothing. */
  close(): void;
}

/** One log entry. */
export interface LogEntry {
  stream: LogStream;
  /** RFC 3339 with nanoseconds (when the line was converted or read). */
  time: string;
  /** The bytes of the line, newline included (absent on a split or unterminated line). */
  data: Uint8Array;
}

interface LogState {
  /** Raw bytes already converted, per stream. */
  stdout: number;
  stderr: number;
  /** Size of the current json file after the last conversion. */
  json: number;
}

function parseSize(v: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]?)b?$/i.exec(v.trim());
  if (!m) throw new InvalidArgumentError(`Invalid log option max-size: "${v}"`);
  const mult = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2].toLowerCase()] ?? 1;
  return Math.floor(Number(m[1]) * mult);
}

/**
 * Parses `--log-opt` values (`max-size=10m`, `max-file=3`, as a list or a map). Unknown keys are
 * rejected like Docker does for the json-file driver.
 */
export function parseLogOptions(opts: string[] | Record<string, string> | undefined): LogConfig {
  const map: Record<string, string> = Array.isArray(opts)
    ? Object.fromEntries(opts.map((o) => {
      const eq = o.indexOf("=");
      if (eq < 1) throw new InvalidArgumentError(`Invalid log option: "${o}" (want key=value)`);
      return [o.slice(0, eq), o.slice(eq + 1)];
    }))
    : { ...(opts ?? {}) };
  const config: LogConfig = { maxFile: 1 };
  for (const [k, v] of Object.entries(map)) {
    switch (k) {
      case "max-size":
        if (v !== "-1") config.maxSize = parseSize(v);
        break;
      case "max-file": {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 1) {
          throw new InvalidArgumentError(`Invalid log option max-file: "${v}" (want >= 1)`);
        }
        config.maxFile = n;
        break;
      }
      case "compress":
      case "labels":
      case "env":
      case "tag":
        break; // accepted, no effect
      default:
        throw new InvalidArgumentError(`Unknown log opt '${k}' for json-file log driver`);
    }
  }
  if (config.maxFile > 1 && config.maxSize === undefined) {
    throw new InvalidArgumentError("max-file cannot be set without max-size");
  }
  return config;
}

let lastNs = 0n;

/** Now as RFC 3339 with nanoseconds; strictly increasing within this process. */
export function nowRfc3339Nano(): string {
  const ns0 = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));
  const ns = ns0 > lastNs ? ns0 : lastNs + 1n;
  lastNs = ns;
  return rfc3339Nano(ns);
}

/**
 * Timestamps for `count` entries written together: strictly increasing, one nanosecond apart,
 * from now. One clock read and one date format per batch instead of per line (the converter's
 * hot path); entries after the batch still stamp later, since the process-wide last stamp moves
 * past the batch.
 */
function batchStamps(count: number): (i: number) => string {
  const first = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));
  const start = first > lastNs ? first : lastNs + 1n;
  lastNs = start + BigInt(Math.max(0, count - 1));
  const text = rfc3339Nano(start);
  const prefix = text.slice(0, 20); // "YYYY-MM-DDTHH:MM:SS."
  const frac = Number(start % 1_000_000_000n);
  return (i: number): string => {
    const f = frac + i;
    if (f >= 1_000_000_000) return rfc3339Nano(start + BigInt(i)); // crossed a second: rare
    return prefix + String(f).padStart(9, "0") + "Z";
  };
}

/** Formats nanoseconds since the epoch as RFC 3339 with nine fractional digits. */
export function rfc3339Nano(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  const frac = (ns % 1_000_000_000n).toString().padStart(9, "0");
  return new Date(ms).toISOString().slice(0, 19) + "." + frac + "Z";
}

/** Parses RFC 3339 (any fraction) to nanoseconds since the epoch. */
export function parseRfc3339Nano(s: string): bigint {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(s);
  if (!m) return BigInt(Date.parse(s)) * 1_000_000n;
  const base = BigInt(Date.parse(m[1] + m[3])) * 1_000_000n;
  return base + BigInt((m[2] ?? "").padEnd(9, "0").slice(0, 9) || "0");
}

/**
 * The files of one container's logs: open the child's stdio, convert, read. Stateless apart
 * from the directory: any process (daemon or CLI) may use it; the lock file serialises them.
 */
export class ContainerLogs {
  readonly dir: string;
  readonly id: string;
  readonly config: LogConfig;
  readonly #locksDir: string;

  /**
   * `dir`: the container directory; `locksDir`: where the per-container log lock lives (the
   * runroot's locks directory).
   */
  constructor(options: { dir: string; id: string; config: LogConfig; locksDir: string }) {
    this.dir = options.dir;
    this.id = options.id;
    this.config = options.config;
    this.#locksDir = options.locksDir;
  }

  /** Path of the current json log (`<id>-json.log`), as inspect's `LogPath` shows. */
  get jsonPath(): string {
    return path.join(this.dir, `${this.id}-json.log`);
  }

  /** Path of a raw output file. */
  rawPath(stream: LogStream): string {
    return path.join(this.dir, RAW_FILES[stream]);
  }

  #lockPath(): string {
    return path.join(this.#locksDir, `${this.id}.log.lock`);
  }

  #readState(): LogState {
    try {
      const s = JSON.parse(fs.readFileSync(path.join(this.dir, STATE_FILE), "utf8")) as LogState;
      return { stdout: s.stdout ?? 0, stderr: s.stderr ?? 0, json: s.json ?? 0 };
    } catch {
      return { stdout: 0, stderr: 0, json: 0 };
    }
  }

  #writeState(s: LogState): void {
    atomicWriteJsonSync(path.join(this.dir, STATE_FILE), s);
  }

  /**
   * Opens the raw files for a new process: `[stdout, stderr]` fds, `O_APPEND|O_CREAT`, plus
   * nothing else. The caller passes them to the spawn and closes its copies.
   */
  openForChild(): [number, number] {
    const out = fs.openSync(this.rawPath("stdout"), "a", 0o640);
    try {
      const err = fs.openSync(this.rawPath("stderr"), "a", 0o640);
      return [out, err];
    } catch (e) {
      fs.closeSync(out);
      throw e;
    }
  }

  /**
   * Before a new run of the container: converts everything the previous run wrote, then
   * empties the raw files so they do not grow across runs (the json files keep the history).
   * Only safe while no process of the container runs (the kernel killed them all with its
   * pid 1).
   */
  async resetForStart(): Promise<void> {
    // A first start has nothing to convert or empty: no locks, no state write (a fsync'd write
    // that was ~1 ms of every `run`).
    if (
      !fs.existsSync(path.join(this.dir, STATE_FILE)) &&
      !fs.existsSync(this.rawPath("stdout")) && !fs.existsSync(this.rawPath("stderr"))
    ) return;
    await this.convert({ final: true });
    await withLock(this.#lockPath(), () => {
      const st = this.#readState();
      for (const stream of ["stdout", "stderr"] as const) {
        if (fs.existsSync(this.rawPath(stream))) fs.truncateSync(this.rawPath(stream), 0);
      }
      this.#writeState({ ...st, stdout: 0, stderr: 0 });
    });
  }

  /** Appends bytes to a raw file (output the daemon relays, e.g. from a pty). */
  appendRaw(stream: LogStream, data: Uint8Array): void {
    fs.appendFileSync(this.rawPath(stream), data);
  }

  /**
   * Opens a raw file for relayed output (an attached container's pipes or pty): one held
   * `O_APPEND` descriptor, so each chunk costs one write(2) — no open, no fsync. The converter
   * (supervisor timer, final pass at exit) turns it into json lines like any detached output.
   */
  openAppender(stream: LogStream): RawAppender {
    let fd: number | undefined = fs.openSync(this.rawPath(stream), "a", 0o640);
    return {
      write(data: Uint8Array): void {
        if (fd === undefined) return;
        let done = 0;
        while (done < data.length) done += fs.writeSync(fd, data, done, data.length - done);
      },
      close(): void {
        if (fd === undefined) return;
        const f = fd;
        fd = undefined;
        fs.closeSync(f);
      },
    };
  }

  /** True when raw output waits for conversion (cheap: two stats and the state file). */
  pending(): boolean {
    return this.pendingBytes() > 0;
  }

  /** Raw bytes waiting for conversion, both streams (two stats and the state file). */
  pendingBytes(): number {
    const s = this.#readState();
    return Math.max(0, rawSize(this.rawPath("stdout")) - s.stdout) +
      Math.max(0, rawSize(this.rawPath("stderr")) - s.stderr);
  }

  /** What a converter in another thread needs to rebuild this object. */
  get workerOptions(): { dir: string; id: string; config: LogConfig; locksDir: string } {
    return { dir: this.dir, id: this.id, config: this.config, locksDir: this.#locksDir };
  }

  /**
   * Converts new raw output to json lines. `final`: the process is gone, so an unterminated last
   * line is written too. Returns the number of entries written.
   */
  convert(options: { final?: boolean } = {}): Promise<number> {
    return withLock(this.#lockPath(), () => {
      let total = 0;
      for (;;) {
        const n = this.#convertLocked(options.final ?? false);
        total += n;
        if (n === 0 || !this.pending()) return total;
      }
    });
  }

  #convertLocked(final: boolean): number {
    const st = this.#readState();
    // Undo a half-finished previous pass (see the module doc).
    const jsonNow = rawSize(this.jsonPath);
    if (jsonNow > st.json) fs.truncateSync(this.jsonPath, st.json);
    else if (jsonNow < st.json) st.json = jsonNow; // rotated then crashed: trust the file
    const next: LogState = { ...st };
    // Lines of both streams, as [stream, bytes], then turned into json in one go.
    const notes: string[] = [];
    const raw: [LogStream, Uint8Array][] = [];
    for (const stream of ["stdout", "stderr"] as const) {
      const file = this.rawPath(stream);
      let from = st[stream];
      const backlog = rawSize(file) - from;
      const cap = backlogCap(this.config);
      if (backlog > cap) {
        const dropped = backlog - cap;
        from += dropped;
        next[stream] = from;
        notes.push(`docker-ts: ${dropped} bytes of ${stream} dropped: the log could not keep up\n`);
      }
      const chunk = readRange(file, from, MAX_PASS);
      if (!chunk.length) continue;
      // A full pass may stop mid-line: only a short read reached the real end of the file.
      const { entries, consumed } = splitLines(chunk, final && chunk.length < MAX_PASS);
      for (const data of entries) raw.push([stream, data]);
      next[stream] = from + consumed;
    }
    const count = notes.length + raw.length;
    if (!count) {
      if (next.stdout !== st.stdout || next.stderr !== st.stderr) this.#writeState(next);
      this.#release(next);
      return 0;
    }
    // Built by hand (not JSON.stringify of an object): same bytes, a third of the cost.
    const stamp = batchStamps(count);
    const decoder = new TextDecoder();
    const lines: string[] = new Array(count);
    let i = 0;
    for (const note of notes) {
      lines[i] = `{"log":${JSON.stringify(note)},"stream":"stderr","time":"${stamp(i)}"}\n`;
      i++;
    }
    for (const [stream, data] of raw) {
      const log = JSON.stringify(decoder.decode(data));
      lines[i] = `{"log":${log},"stream":"${stream}","time":"${stamp(i)}"}\n`;
      i++;
    }
    const max = this.config.maxSize;
    if (max === undefined) {
      this.#appendJson(lines.join(""), next);
    } else {
      // Written in pieces that respect max-size, so no json file outgrows it by a whole pass.
      let piece: string[] = [];
      let pieceBytes = 0;
      for (const text of lines) {
        const size = utf8Length(text);
        if (next.json + pieceBytes > 0 && next.json + pieceBytes + size > max) {
          this.#appendJson(piece.join(""), next);
          piece = [];
          pieceBytes = 0;
          if (next.json > 0) {
            this.#rotate();
            next.json = 0;
          }
        }
        piece.push(text);
        pieceBytes += size;
      }
      this.#appendJson(piece.join(""), next);
    }
    this.#writeState(next);
    this.#release(next);
    return count;
  }

  /** Appends json text to the current file and counts its bytes into `next.json`. */
  #appendJson(text: string, next: LogState): void {
    if (!text) return;
    const body = new TextEncoder().encode(text);
    const fd = fs.openSync(this.jsonPath, "a", 0o640);
    try {
      let done = 0;
      while (done < body.length) done += fs.writeSync(fd, body, done, body.length - done);
    } finally {
      fs.closeSync(fd);
    }
    next.json += body.length;
  }

  /** Frees the disk blocks of raw output that is converted (its offsets stay valid). */
  #release(offsets: LogState): void {
    for (const stream of ["stdout", "stderr"] as const) {
      releaseConverted(this.rawPath(stream), offsets[stream]);
    }
  }

  #rotate(): void {
    const keep = this.config.maxFile;
    const base = this.jsonPath;
    if (keep <= 1) {
      fs.truncateSync(base, 0);
      return;
    }
    fs.rmSync(`${base}.${keep - 1}`, { force: true });
    for (let i = keep - 2; i >= 1; i--) {
      if (fs.existsSync(`${base}.${i}`)) fs.renameSync(`${base}.${i}`, `${base}.${i + 1}`);
    }
    if (fs.existsSync(base)) fs.renameSync(base, `${base}.1`);
  }

  /** The json files, oldest first. */
  jsonFiles(): string[] {
    const out: string[] = [];
    for (let i = this.config.maxFile - 1; i >= 1; i--) {
      if (fs.existsSync(`${this.jsonPath}.${i}`)) out.push(`${this.jsonPath}.${i}`);
    }
    if (fs.existsSync(this.jsonPath)) out.push(this.jsonPath);
    return out;
  }

  /**
   * A consistent snapshot of everything logged so far: the json entries, then the unconverted
   * raw tail (unterminated last lines included). Also returns the raw offsets it read up to,
   * where a follower continues.
   */
  snapshot(): Promise<{ entries: LogEntry[]; offsets: Record<LogStream, number> }> {
    return withLock(this.#lockPath(), () => {
      const entries: LogEntry[] = [];
      for (const file of this.jsonFiles()) {
        let text: string;
        try {
          text = fs.readFileSync(file, "utf8");
        } catch {
          continue;
        }
        for (const line of text.split("\n")) {
          if (!line) continue;
          try {
            const j = JSON.parse(line) as { log: string; stream: LogStream; time: string };
            entries.push({
              stream: j.stream === "stderr" ? "stderr" : "stdout",
              time: j.time,
              data: new TextEncoder().encode(j.log),
            });
          } catch {
            // a torn line cannot be produced by the converter; skip anything foreign
          }
        }
      }
      const st = this.#readState();
      const offsets = { stdout: st.stdout, stderr: st.stderr };
      for (const stream of ["stdout", "stderr"] as const) {
        // Bounded like conversion: never more than the backlog the converter keeps.
        const chunk = readRange(this.rawPath(stream), st[stream], MAX_BACKLOG);
        offsets[stream] += chunk.length;
        const time = nowRfc3339Nano();
        for (const data of splitLines(chunk, true).entries) entries.push({ stream, time, data });
      }
      return { entries, offsets };
    });
  }

  /** Reads raw output past `offsets` (advancing them): what a follower shows next. */
  readNew(offsets: Record<LogStream, number>, final: boolean): LogEntry[] {
    const out: LogEntry[] = [];
    for (const stream of ["stdout", "stderr"] as const) {
      const chunk = readRange(this.rawPath(stream), offsets[stream], MAX_PASS);
      if (!chunk.length) continue;
      const { entries, consumed } = splitLines(chunk, final);
      offsets[stream] += consumed;
      const time = nowRfc3339Nano();
      for (const data of entries) out.push({ stream, time, data });
    }
    return out;
  }

  /** Removes every log file (container removal does it by deleting the directory). */
  removeAll(): void {
    for (const f of [...this.jsonFiles(), this.rawPath("stdout"), this.rawPath("stderr")]) {
      fs.rmSync(f, { force: true });
    }
    fs.rmSync(path.join(this.dir, STATE_FILE), { force: true });
  }
}

/** UTF-8 byte length of a string without encoding it. */
function utf8Length(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      n += 4; // a surrogate pair: one 4-byte sequence
      i++;
    } else n += 3;
  }
  return n;
}

function rawSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

function readRange(file: string, offset: number, max: number): Uint8Array {
  let fd: number;
  try {
    fd = fs.openSync(file, "r");
  } catch {
    return new Uint8Array(0);
  }
  try {
    const size = fs.fstatSync(fd).size;
    const len = Math.min(Math.max(0, size - offset), max);
    const buf = new Uint8Array(len);
    let got = 0;
    while (got < len) {
      const n = fs.readSync(fd, buf, got, len - got, offset + got);
      if (n === 0) break;
      got += n;
    }
    return buf.subarray(0, got);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Splits bytes into lines (newline kept). Lines longer than 16 KiB are cut like Docker does. An
 * unterminated tail is returned only when `final`; otherwise it stays for the next pass.
 */
export function splitLines(
  chunk: Uint8Array,
  final: boolean,
): { entries: Uint8Array[]; consumed: number } {
  const entries: Uint8Array[] = [];
  let start = 0;
  while (start < chunk.length) {
    // Search one entry's worth only: a scan to the end of a newline-less chunk for every 16 KiB
    // cut made splitting quadratic.
    const window = chunk.subarray(start, Math.min(chunk.length, start + MAX_LINE));
    const at = window.indexOf(10);
    if (at === -1) {
      if (window.length === MAX_LINE) {
        entries.push(chunk.slice(start, start + MAX_LINE));
        start += MAX_LINE;
        continue;
      }
      if (final) {
        entries.push(chunk.slice(start));
        start = chunk.length;
      }
      break;
    }
    const end = start + at + 1;
    entries.push(chunk.slice(start, end));
    start = end;
  }
  return { entries, consumed: start };
}

/** Options of a logs read. */
export interface ReadLogsOptions {
  /** Include stdout / stderr (default both). */
  stdout?: boolean;
  stderr?: boolean;
  /** Last N entries (`--tail`); undefined or negative: all. */
  tail?: number;
  /** Only entries at or after / before these instants (nanoseconds since the epoch). */
  sinceNs?: bigint;
  untilNs?: bigint;
  /** Keep reading new output while `running()` says the container runs. */
  follow?: boolean;
  /** Whether the container still runs (follow ends when it does not and nothing is left). */
  running?: () => boolean;
  /** Ends the read. */
  signal?: AbortSignal;
  /** Follow poll interval (default 100 ms). */
  pollMs?: number;
}

/** Reads a container's logs as entries; with `follow`, keeps yielding until it stops running. */
export async function* readLogs(
  logs: ContainerLogs,
  options: ReadLogsOptions = {},
): AsyncGenerator<LogEntry> {
  const want = (e: LogEntry): boolean => {
    if (e.stream === "stdout" && options.stdout === false) return false;
    if (e.stream === "stderr" && options.stderr === false) return false;
    if (options.sinceNs !== undefined || options.untilNs !== undefined) {
      const t = parseRfc3339Nano(e.time);
      if (options.sinceNs !== undefined && t < options.sinceNs) return false;
      if (options.untilNs !== undefined && t > options.untilNs) return false;
    }
    return true;
  };
  const snap = await logs.snapshot();
  let entries = snap.entries.filter(want);
  if (options.tail !== undefined && options.tail >= 0) {
    entries = options.tail === 0 ? [] : entries.slice(-options.tail);
  }
  for (const e of entries) {
    if (options.signal?.aborted) return;
    yield e;
  }
  if (!options.follow) return;
  // Unterminated tails were already shown by the snapshot: resume after them.
  const offsets = snap.offsets;
  const pollMs = options.pollMs ?? 100;
  for (;;) {
    if (options.signal?.aborted) return;
    const alive = options.running?.() ?? false;
    for (const e of logs.readNew(offsets, !alive)) {
      if (options.untilNs !== undefined && parseRfc3339Nano(e.time) > options.untilNs) return;
      if (want(e)) yield e;
    }
    if (!alive) return;
    if (options.untilNs !== undefined && BigInt(Date.now()) * 1_000_000n > options.untilNs) return;
    await abortableSleep(pollMs, options.signal);
  }
}

function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/**
 * A converter thread for large backlogs: json encoding costs ~10 ms per MiB, which on the main
 * thread slows every attached stream of the engine several-fold while a container floods its
 * log. The Worker is started on first use and must be {@link LogConverterThread.close}d when idle
 * (a live Worker keeps the process running). Conversions are serialised per container by the
 * log lock, whichever thread runs them.
 */
export class LogConverterThread {
  #worker: Worker | undefined;
  #seq = 0;
  readonly #waiting = new Map<number, { resolve(n: number): void; reject(e: Error): void }>();

  /** Converts `logs`' pending output in the Worker; resolves to the entries written. */
  convert(logs: ContainerLogs): Promise<number> {
    const worker = this.#worker ??= this.#start();
    const seq = ++this.#seq;
    return new Promise((resolve, reject) => {
      this.#waiting.set(seq, { resolve, reject });
      worker.postMessage({ seq, ...logs.workerOptions });
    });
  }

  #start(): Worker {
    const w = new Worker(new URL("./log_convert_worker.ts", import.meta.url), { type: "module" });
    w.onmessage = (e: MessageEvent<{ seq: number; ok: boolean; n?: number; message?: string }>) => {
      const p = this.#waiting.get(e.data.seq);
      this.#waiting.delete(e.data.seq);
      if (!p) return;
      if (e.data.ok) p.resolve(e.data.n ?? 0);
      else p.reject(new InternalError(`Cannot convert container logs: ${e.data.message}`));
    };
    w.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      this.#fail(new InternalError(`Log converter thread failed: ${e.message}`));
    };
    return w;
  }

  #fail(err: Error): void {
    this.#worker?.terminate();
    this.#worker = undefined;
    for (const p of this.#waiting.values()) p.reject(err);
    this.#waiting.clear();
  }

  /** Stops the Worker (pending conversions reject; the next convert starts a new one). */
  close(): void {
    if (this.#worker) this.#fail(new InternalError("Log converter thread closed"));
  }

  /** True while the Worker exists. */
  get running(): boolean {
    return this.#worker !== undefined;
  }
}
