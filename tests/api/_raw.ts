/** Raw unix-socket conversations for API tests: write bytes, read bytes back. */
const enc = new TextEncoder();
const dec = new TextDecoder();

/** A raw connection with a read buffer. */
export class RawConn {
  readonly conn: Deno.UnixConn;
  #buf = new Uint8Array(0);
  #eof = false;

  private constructor(conn: Deno.UnixConn) {
    this.conn = conn;
  }

  static async open(path: string): Promise<RawConn> {
    return new RawConn(await Deno.connect({ transport: "unix", path }));
  }

  async send(data: string | Uint8Array): Promise<void> {
    let b = typeof data === "string" ? enc.encode(data) : data;
    while (b.length) b = b.subarray(await this.conn.write(b));
  }

  async #fill(timeoutMs: number): Promise<boolean> {
    if (this.#eof) return false;
    const chunk = new Uint8Array(65536);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const n = await Promise.race([
      this.conn.read(chunk),
      new Promise<never>((_, rej) => {
        timer = setTimeout(
          () => rej(new Error(`read timed out; have ${JSON.stringify(dec.decode(this.#buf))}`)),
          timeoutMs,
        );
      }),
    ]).finally(() => clearTimeout(timer));
    if (n === null) {
      this.#eof = true;
      return false;
    }
    const next = new Uint8Array(this.#buf.length + n);
    next.set(this.#buf);
    next.set(chunk.subarray(0, n), this.#buf.length);
    this.#buf = next;
    return true;
  }

  /** Reads until `text` appears; returns everything up to and including it. */
  async readUntil(text: string, timeoutMs = 5000): Promise<string> {
    for (;;) {
      const s = dec.decode(this.#buf);
      const i = s.indexOf(text);
      if (i >= 0) {
        const upto = enc.encode(s.slice(0, i + text.length));
        this.#buf = this.#buf.subarray(upto.length);
        return s.slice(0, i + text.length);
      }
      if (!(await this.#fill(timeoutMs))) {
        throw new Error(`EOF before ${JSON.stringify(text)}; have ${JSON.stringify(s)}`);
      }
    }
  }

  /** Reads exactly n bytes. */
  async readBytes(n: number, timeoutMs = 5000): Promise<Uint8Array> {
    while (this.#buf.length < n) {
      if (!(await this.#fill(timeoutMs))) throw new Error("EOF");
    }
    const out = this.#buf.slice(0, n);
    this.#buf = this.#buf.subarray(n);
    return out;
  }

  /** Reads one response: head, then a Content-Length or chunked body (decoded). */
  async response(
    timeoutMs = 5000,
  ): Promise<{ status: number; head: string; headers: Headers; body: string }> {
    const head = await this.readUntil("\r\n\r\n", timeoutMs);
    const [statusLine, ...lines] = head.trimEnd().split("\r\n");
    const headers = new Headers();
    for (const l of lines) {
      headers.append(l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 1).trim());
    }
    const status = Number(statusLine.split(" ")[1]);
    let body = "";
    if (headers.get("transfer-encoding") === "chunked") {
      for (;;) {
        const size = parseInt(await this.readUntil("\r\n", timeoutMs), 16);
        if (size === 0) {
          await this.readUntil("\r\n", timeoutMs);
          break;
        }
        body += dec.decode(await this.readBytes(size, timeoutMs));
        await this.readUntil("\r\n", timeoutMs);
      }
    } else if (headers.has("content-length")) {
      body = dec.decode(await this.readBytes(Number(headers.get("content-length")), timeoutMs));
    }
    return { status, head, headers, body };
  }

  /** Reads to EOF. */
  async rest(timeoutMs = 5000): Promise<Uint8Array> {
    while (await this.#fill(timeoutMs)) { /* accumulate */ }
    const out = this.#buf;
    this.#buf = new Uint8Array(0);
    return out;
  }

  close(): void {
    try {
      this.conn.close();
    } catch {
      // closed
    }
  }
}

/** `GET path` etc. as raw bytes. */
export function request(
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: string } = {},
): string {
  const h = { Host: "api.moby.localhost", ...options.headers };
  if (
    options.body !== undefined &&
    !Object.keys(h).some((k) => k.toLowerCase() === "transfer-encoding")
  ) {
    (h as Record<string, string>)["Content-Length"] = String(enc.encode(options.body).length);
  }
  return `${method} ${path} HTTP/1.1\r\n` +
    Object.entries(h).map(([k, v]) => `${k}: ${v}\r\n`).join("") + "\r\n" + (options.body ?? "");
}
