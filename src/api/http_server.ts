/**
 * A small HTTP/1.1 server over a unix socket (or any `Deno.Listener`). `Deno.serve` cannot hand a
 * connection over after a response head (the Docker API's attach and exec start do exactly that),
 * so this parses requests itself: request line and headers, keep-alive, `Content-Length` and
 * chunked request bodies as streams, chunked responses, and connection hijack with half-close.
 *
 * @module
 */

import { ConnReader, HttpProtocolError, MAX_HEAD_BYTES, READ_SIZE } from "./conn_reader.ts";

export { ConnReader, HttpProtocolError };

const encoder = new TextEncoder();

/** Reason phrases of the statuses the API uses. */
const REASONS: Record<number, string> = {
  101: "Switching Protocols",
  200: "OK",
  201: "Created",
  204: "No Content",
  304: "Not Modified",
  400: "Bad Request",
  401: "Unauthorized",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  411: "Length Required",
  413: "Payload Too Large",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  503: "Service Unavailable",
};

/** A parsed request. The body is a stream; read it or leave it (the server drains it). */
export interface HttpRequest {
  method: string;
  /** Raw request target (`/v1.41/images/json?all=1`). */
  target: string;
  /** Path part of the target, not decoded. */
  path: string;
  query: URLSearchParams;
  /** `HTTP/1.1` or `HTTP/1.0`. */
  version: string;
  /** Header names lower-cased. */
  headers: Headers;
  /** The request body (empty stream when there is none). */
  body: ReadableStream<Uint8Array>;
  /** Whether the request had a body (a length > 0 or chunked). */
  hasBody: boolean;
  /**
   * Aborted when the client goes away. Watching starts on first access (after the body is
   * read), so only long-running handlers (wait, follow streams) pay for it.
   */
  readonly signal: AbortSignal;
}

/** Writes a chunked response body. */
export interface ChunkedWriter {
  /** Sends one chunk (empty data is skipped: a zero-length chunk would end the body). */
  write(data: string | Uint8Array): Promise<void>;
  /** Sends the terminating chunk. */
  end(): Promise<void>;
}

/** A connection taken over after a raw response head (attach, exec start). */
export interface HijackedConn {
  /** Bytes from the client, starting with any it sent after the request; ends at its half-close. */
  readable: ReadableStream<Uint8Array>;
  /** Writes bytes completely; rejects when the client is gone. */
  write(data: Uint8Array): Promise<void>;
  /** Half-closes our side (the client sees EOF, can still send). */
  closeWrite(): Promise<void>;
}

/** How a handler answers. Exactly one of `send`, `stream`, `hijack` per request. */
export interface ResponseWriter {
  /** Whether a response head went out. */
  readonly headersSent: boolean;
  /** Sends a complete response (`Content-Length` set; no body for HEAD, 204 and 304). */
  send(status: number, body?: string | Uint8Array | null, headers?: HeadersInit): Promise<void>;
  /** Sends the head at once with `Transfer-Encoding: chunked`; the body follows via the writer. */
  stream(status: number, headers?: HeadersInit): Promise<ChunkedWriter>;
  /**
   * Writes `head` byte for byte (it must end with a blank line) and hands over the connection.
   * The server closes the connection once the handler returns.
   */
  hijack(head: string): Promise<HijackedConn>;
}

/** A request handler. It must settle only when it is done with the connection. */
export type HttpHandler = (req: HttpRequest, res: ResponseWriter) => Promise<void>;

/** Options of {@link HttpServer}. */
export interface HttpServerOptions {
  /** Headers added to every `send`/`stream` response (not to hijack heads). */
  defaultHeaders?: Record<string, string>;
  /** Called with errors a handler threw after its response started (for a daemon log). */
  onError?: (err: unknown, req: HttpRequest) => void;
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let rest = data;
  while (rest.length > 0) rest = rest.subarray(await conn.write(rest));
}

function reason(status: number): string {
  return REASONS[status] ?? "Status";
}

function headLines(status: number, headers: Headers): string {
  let head = `HTTP/1.1 ${status} ${reason(status)}\r\n`;
  headers.forEach((value, name) => {
    head += `${canonicalHeader(name)}: ${value}\r\n`;
  });
  return head + "\r\n";
}

/** `content-type` → `Content-Type`, `api-version` → `Api-Version` (Go clients don't care, humans do). */
function canonicalHeader(name: string): string {
  return name.replace(/(^|-)([a-z])/g, (_, d: string, c: string) => d + c.toUpperCase());
}

/** Streams a body of known length. */
function lengthBody(reader: ConnReader, length: number): Body {
  let remaining = length;
  const stream = new ReadableStream<Uint8Array>({
    async pull(ctrl): Promise<void> {
      if (remaining === 0) {
        ctrl.close();
        return;
      }
      const chunk = await reader.readSome(Math.min(remaining, READ_SIZE));
      if (!chunk) {
        ctrl.error(new HttpProtocolError(400, "Unexpected end of body"));
        return;
      }
      remaining -= chunk.length;
      // Copy: the reader's buffer is reused by later reads.
      ctrl.enqueue(chunk.slice());
      if (remaining === 0) ctrl.close();
    },
  }, { highWaterMark: 0 });
  return { stream, done: () => remaining === 0 };
}

/** Streams a `Transfer-Encoding: chunked` body. */
function chunkedBody(reader: ConnReader): Body {
  let left = 0;
  let done = false;
  const stream = new ReadableStream<Uint8Array>({
    async pull(ctrl): Promise<void> {
      try {
        while (left === 0) {
          const line = await reader.readLine(4096);
          if (line === null) throw new HttpProtocolError(400, "Unexpected end of chunked body");
          const size = parseInt(line.split(";")[0].trim(), 16);
          if (!Number.isFinite(size) || size < 0 || !/^[0-9a-fA-F]+/.test(line.trim())) {
            throw new HttpProtocolError(400, `Invalid chunk size line "${line}"`);
          }
          if (size === 0) {
            // Trailers, then the blank line that ends the body.
            for (;;) {
              const t = await reader.readLine();
              if (t === null || t === "") break;
            }
            done = true;
            ctrl.close();
            return;
          }
          left = size;
        }
        const chunk = await reader.readSome(Math.min(left, READ_SIZE));
        if (!chunk) throw new HttpProtocolError(400, "Unexpected end of chunked body");
        left -= chunk.length;
        if (left === 0) {
          const crlf = await reader.readLine(2);
          if (crlf !== "") throw new HttpProtocolError(400, "Missing CRLF after chunk");
        }
        ctrl.enqueue(chunk.slice());
      } catch (err) {
        if (!done) ctrl.error(err);
      }
    },
  }, { highWaterMark: 0 });
  return { stream, done: () => done };
}

/** A request body and whether its last byte has been read off the connection. */
interface Body {
  stream: ReadableStream<Uint8Array>;
  done(): boolean;
}

function emptyBody(): Body {
  return { stream: new ReadableStream<Uint8Array>({ start: (c) => c.close() }), done: () => true };
}

/** Reads the rest of a body so the next request on the connection starts at its first byte. */
async function drain(body: Body): Promise<void> {
  if (body.done()) return;
  if (body.stream.locked) {
    // The handler holds a reader it didn't finish: the framing is lost, so the caller closes.
    throw new HttpProtocolError(400, "Request body left unread");
  }
  for await (const _ of body.stream) { /* discard */ }
}

/**
 * An HTTP/1.1 server on a listener. Each connection serves requests one after another
 * (keep-alive) until either side closes or a handler hijacks it.
 *
 * @example
 * ```ts ignore
 * const listener = Deno.listen({ transport: "unix", path: "/tmp/x.sock" });
 * const server = new HttpServer(listener, async (req, res) => {
 *   await res.send(200, "OK", { "Content-Type": "text/plain" });
 * });
 * await server.finished;
 * ```
 */
export class HttpServer {
  readonly #listener: Deno.Listener;
  readonly #handler: HttpHandler;
  readonly #options: HttpServerOptions;
  readonly #conns = new Set<Deno.Conn>();
  #closed = false;
  /** Settles when the listener has stopped accepting (after {@link HttpServer.close}). */
  readonly finished: Promise<void>;

  constructor(listener: Deno.Listener, handler: HttpHandler, options: HttpServerOptions = {}) {
    this.#listener = listener;
    this.#handler = handler;
    this.#options = options;
    this.finished = this.#acceptLoop();
  }

  /** Number of open connections (tests use it to see that clients were let go). */
  get connections(): number {
    return this.#conns.size;
  }

  async #acceptLoop(): Promise<void> {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
      } catch (err) {
        if (this.#closed) return;
        if (err instanceof Deno.errors.BadResource) return;
        // Transient accept failures (EMFILE…) must not stop the daemon.
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      this.#conns.add(conn);
      this.#serveConn(conn).finally(() => {
        this.#conns.delete(conn);
        try {
          conn.close();
        } catch {
          // already closed
        }
      });
    }
  }

  async #serveConn(conn: Deno.Conn): Promise<void> {
    const reader = new ConnReader(conn);
    for (;;) {
      let req: HttpRequest & { keepAlive: boolean; bodyDone: () => Promise<void> };
      try {
        const parsed = await this.#readRequest(reader);
        if (!parsed) return;
        req = parsed;
      } catch (err) {
        const status = err instanceof HttpProtocolError ? err.status : 400;
        const msg = JSON.stringify({ message: (err as Error).message }) + "\n";
        await writeAll(
          conn,
          encoder.encode(
            `HTTP/1.1 ${status} ${reason(status)}\r\nContent-Type: application/json\r\n` +
              `Content-Length: ${encoder.encode(msg).length}\r\nConnection: close\r\n\r\n${msg}`,
          ),
        ).catch(() => {});
        return;
      }
      const res = new Writer(conn, req.method, this.#options.defaultHeaders ?? {}, req.keepAlive);
      res.attachReader(reader);
      try {
        await this.#handler(req, res);
      } catch (err) {
        if (!res.headersSent) {
          const msg = JSON.stringify({ message: (err as Error)?.message ?? String(err) }) + "\n";
          await res.send(500, msg, { "Content-Type": "application/json" }).catch(() => {});
        } else {
          this.#options.onError?.(err, req);
          return;
        }
      }
      if (res.hijacked || res.broken || !res.finishedCleanly || !req.keepAlive) return;
      try {
        await req.bodyDone();
      } catch {
        return;
      }
    }
  }

  async #readRequest(
    reader: ConnReader,
  ): Promise<(HttpRequest & { keepAlive: boolean; bodyDone: () => Promise<void> }) | null> {
    let line = await reader.readLine();
    // Tolerate stray CRLFs between requests (RFC 9112 §2.2).
    while (line === "") line = await reader.readLine();
    if (line === null) return null;
    const m = /^([A-Z]+) (\S+) (HTTP\/1\.[01])$/.exec(line);
    if (!m) throw new HttpProtocolError(400, `Malformed request line "${line.slice(0, 80)}"`);
    const [, method, target, version] = m;
    const headers = new Headers();
    let headBytes = line.length;
    for (;;) {
      const h = await reader.readLine();
      if (h === null) throw new HttpProtocolError(400, "Unexpected end of request head");
      if (h === "") break;
      headBytes += h.length;
      if (headBytes > MAX_HEAD_BYTES) throw new HttpProtocolError(431, "Request header too large");
      const colon = h.indexOf(":");
      if (colon <= 0) throw new HttpProtocolError(400, `Malformed header line "${h.slice(0, 80)}"`);
      try {
        headers.append(h.slice(0, colon).trim(), h.slice(colon + 1).trim());
      } catch {
        throw new HttpProtocolError(400, `Malformed header line "${h.slice(0, 80)}"`);
      }
    }
    const q = target.indexOf("?");
    const path = q < 0 ? target : target.slice(0, q);
    const query = new URLSearchParams(q < 0 ? "" : target.slice(q + 1));
    const te = headers.get("transfer-encoding")?.toLowerCase();
    const cl = headers.get("content-length");
    let body: Body;
    let hasBody = false;
    if (te !== undefined && te !== null && te !== "identity") {
      if (!te.split(",").map((s) => s.trim()).includes("chunked")) {
        throw new HttpProtocolError(400, `Unsupported transfer encoding "${te}"`);
      }
      body = chunkedBody(reader);
      hasBody = true;
    } else if (cl !== null) {
      if (!/^\d+$/.test(cl.trim())) {
        throw new HttpProtocolError(400, `Invalid Content-Length "${cl}"`);
      }
      const n = Number(cl.trim());
      body = n > 0 ? lengthBody(reader, n) : emptyBody();
      hasBody = n > 0;
    } else {
      body = emptyBody();
    }
    const connection = headers.get("connection")?.toLowerCase() ?? "";
    const keepAlive = version === "HTTP/1.1"
      ? !connection.split(",").map((s) => s.trim()).includes("close")
      : connection.includes("keep-alive");
    let controller: AbortController | undefined;
    const bodyDone = (): Promise<void> => drain(body);
    return {
      method,
      target,
      path,
      query,
      version,
      headers,
      body: body.stream,
      hasBody,
      keepAlive,
      bodyDone,
      get signal(): AbortSignal {
        if (!controller) {
          const ctrl = new AbortController();
          controller = ctrl;
          // Once the body is consumed, the next readable byte belongs to the next request; a
          // clean EOF (or a reset) means the client went away. Bytes that arrive stay buffered.
          (async () => {
            try {
              if (!body.stream.locked) await drain(body);
              while (!ctrl.signal.aborted) {
                if (!(await reader.fill())) break;
                // Data (a pipelined request or stdin): not a close; keep watching for EOF only
                // until the handler ends, which the read loop observes itself.
                if (reader.buffered > MAX_HEAD_BYTES) return;
              }
            } catch {
              // treat a broken body as a gone client
            }
            ctrl.abort(new Deno.errors.ConnectionReset("Client closed the connection"));
          })();
        }
        return controller.signal;
      },
    };
  }

  /** Stops accepting, closes every open connection and removes nothing on disk. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#listener.close();
    } catch {
      // already closed
    }
    for (const c of this.#conns) {
      try {
        c.close();
      } catch {
        // already closed
      }
    }
    await this.finished;
  }
}

/** The {@link ResponseWriter} of one request. */
class Writer implements ResponseWriter {
  readonly #conn: Deno.Conn;
  readonly #method: string;
  readonly #defaults: Record<string, string>;
  readonly #keepAlive: boolean;
  headersSent = false;
  hijacked = false;
  broken = false;
  finishedCleanly = false;
  #reader?: ConnReader;

  constructor(
    conn: Deno.Conn,
    method: string,
    defaults: Record<string, string>,
    keepAlive: boolean,
  ) {
    this.#conn = conn;
    this.#method = method;
    this.#defaults = defaults;
    this.#keepAlive = keepAlive;
  }

  /** Lets the hijack hand over bytes the server already buffered. */
  attachReader(reader: ConnReader): void {
    this.#reader = reader;
  }

  #headers(extra: HeadersInit | undefined): Headers {
    const h = new Headers(this.#defaults);
    new Headers(extra ?? {}).forEach((v, k) => h.set(k, v));
    if (!this.#keepAlive) h.set("Connection", "close");
    return h;
  }

  async #write(data: Uint8Array): Promise<void> {
    try {
      await writeAll(this.#conn, data);
    } catch (err) {
      this.broken = true;
      throw err;
    }
  }

  #claim(): void {
    if (this.headersSent) throw new Error("Response already started");
    this.headersSent = true;
  }

  async send(
    status: number,
    body?: string | Uint8Array | null,
    headers?: HeadersInit,
  ): Promise<void> {
    this.#claim();
    const bytes = body == null
      ? new Uint8Array(0)
      : typeof body === "string"
      ? encoder.encode(body)
      : body;
    const h = this.#headers(headers);
    const noBody = status === 204 || status === 304 || (status >= 100 && status < 200);
    if (!noBody) h.set("Content-Length", String(bytes.length));
    const head = encoder.encode(headLines(status, h));
    const withBody = !noBody && this.#method !== "HEAD" && bytes.length > 0;
    const out = new Uint8Array(head.length + (withBody ? bytes.length : 0));
    out.set(head);
    if (withBody) out.set(bytes, head.length);
    await this.#write(out);
    this.finishedCleanly = true;
  }

  async stream(status: number, headers?: HeadersInit): Promise<ChunkedWriter> {
    this.#claim();
    const h = this.#headers(headers);
    h.set("Transfer-Encoding", "chunked");
    await this.#write(encoder.encode(headLines(status, h)));
    let ended = false;
    return {
      write: async (data: string | Uint8Array): Promise<void> => {
        if (ended) throw new Error("Chunked body already ended");
        const bytes = typeof data === "string" ? encoder.encode(data) : data;
        if (bytes.length === 0) return;
        const prefix = encoder.encode(`${bytes.length.toString(16)}\r\n`);
        const out = new Uint8Array(prefix.length + bytes.length + 2);
        out.set(prefix);
        out.set(bytes, prefix.length);
        out.set([13, 10], prefix.length + bytes.length);
        await this.#write(out);
      },
      end: async (): Promise<void> => {
        if (ended) return;
        ended = true;
        await this.#write(encoder.encode("0\r\n\r\n"));
        this.finishedCleanly = true;
      },
    };
  }

  async hijack(head: string): Promise<HijackedConn> {
    this.#claim();
    this.hijacked = true;
    await this.#write(encoder.encode(head));
    const conn = this.#conn;
    const reader = this.#reader ?? new ConnReader(conn);
    const readable = new ReadableStream<Uint8Array>({
      async pull(ctrl): Promise<void> {
        const chunk = await reader.readSome();
        if (chunk === null) ctrl.close();
        else ctrl.enqueue(chunk.slice());
      },
    }, { highWaterMark: 0 });
    return {
      readable,
      write: (data: Uint8Array): Promise<void> => this.#write(data),
      closeWrite: async (): Promise<void> => {
        try {
          await (conn as Deno.UnixConn).closeWrite();
        } catch {
          // already closed by the peer
        }
      },
    };
  }
}
