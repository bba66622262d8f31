/**
 * Buffered reading of an HTTP/1.1 connection, shared by the API server and its client (which
 * needs nothing else of the server: a module of its own keeps the server out of every CLI
 * command's start-up).
 *
 * @module
 */

const decoder = new TextDecoder();

/** Largest request head accepted (request line + headers). */
export const MAX_HEAD_BYTES = 64 * 1024;
/** Default size of one read. */
export const READ_SIZE = 64 * 1024;

/** A malformed request; the connection is answered with `status` and closed. */
export class HttpProtocolError extends Error {
  /** Status to answer with. */
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/**
 * Buffered reads over a connection. One read is in flight at a time: concurrent callers share it,
 * so a "has the client gone away?" probe and the next request's parser never race for bytes.
 */
export class ConnReader {
  readonly #conn: Deno.Conn;
  #buf: Uint8Array = new Uint8Array(0);
  #eof = false;
  #inflight: Promise<boolean> | null = null;

  constructor(conn: Deno.Conn, initial?: Uint8Array) {
    this.#conn = conn;
    if (initial) this.#buf = initial;
  }

  /** Bytes buffered but not consumed. */
  get buffered(): number {
    return this.#buf.length;
  }

  /** Whether the peer has closed its side and the buffer is empty. */
  get atEof(): boolean {
    return this.#eof && this.#buf.length === 0;
  }

  /** Reads more bytes into the buffer; false at end of stream (or on a broken connection). */
  fill(): Promise<boolean> {
    if (this.#eof) return Promise.resolve(false);
    this.#inflight ??= (async (): Promise<boolean> => {
      const chunk = new Uint8Array(READ_SIZE);
      let n: number | null;
      try {
        n = await this.#conn.read(chunk);
      } catch {
        n = null;
      }
      this.#inflight = null;
      if (n === null) {
        this.#eof = true;
        return false;
      }
      const next = new Uint8Array(this.#buf.length + n);
      next.set(this.#buf);
      next.set(chunk.subarray(0, n), this.#buf.length);
      this.#buf = next;
      return true;
    })();
    return this.#inflight;
  }

  /** Takes up to `max` buffered bytes, reading once if the buffer is empty; null at EOF. */
  async readSome(max: number = READ_SIZE): Promise<Uint8Array | null> {
    if (this.#buf.length === 0 && !(await this.fill())) return null;
    const out = this.#buf.subarray(0, Math.min(max, this.#buf.length));
    this.#buf = this.#buf.subarray(out.length);
    return out;
  }

  /** Reads exactly `n` bytes; throws when the stream ends first. */
  async readExact(n: number): Promise<Uint8Array> {
    while (this.#buf.length < n) {
      if (!(await this.fill())) throw new HttpProtocolError(400, "Unexpected end of body");
    }
    const out = this.#buf.slice(0, n);
    this.#buf = this.#buf.subarray(n);
    return out;
  }

  /**
   * Reads one line (without CRLF/LF); null at a clean EOF before any byte. Lines longer than
   * `max` throw a 431.
   */
  async readLine(max: number = MAX_HEAD_BYTES): Promise<string | null> {
    let scanned = 0;
    for (;;) {
      const nl = this.#buf.indexOf(10, scanned);
      if (nl >= 0) {
        const end = nl > 0 && this.#buf[nl - 1] === 13 ? nl - 1 : nl;
        const line = decoder.decode(this.#buf.subarray(0, end));
        this.#buf = this.#buf.subarray(nl + 1);
        return line;
      }
      scanned = this.#buf.length;
      if (scanned > max) throw new HttpProtocolError(431, "Request header too large");
      if (!(await this.fill())) {
        if (this.#buf.length === 0) return null;
        throw new HttpProtocolError(400, "Unexpected end of request head");
      }
    }
  }
}
