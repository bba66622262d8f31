/**
 * What every handler shares: the request view (query helpers, JSON body), the context (engine,
 * daemon facts, event bus), JSON and error responses with Docker's shapes and status codes.
 *
 * @module
 */
import { describeError, DockerTsError, InvalidArgumentError } from "../../errors.ts";
import type { EngineApi } from "../../engine_api.ts";
import type { HttpRequest, ResponseWriter } from "../http_server.ts";
import type { Params } from "../router.ts";

/** Facts about the daemon the system endpoints report. */
export interface DaemonInfo {
  /** docker-ts version. */
  version: string;
  root: string;
  runroot: string;
  /** Socket path, for `Name`-like fields and logs. */
  socket?: string;
}

/** One event of `GET /events` (docker's JSON message shape). */
export interface ApiEvent {
  Type: "container" | "image" | "network" | "volume" | "daemon";
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: "local";
  time: number;
  timeNano: number;
  /** Legacy fields (API < 1.22 clients still read them). */
  status?: string;
  id?: string;
  from?: string;
}

/**
 * Events for the actions performed through this API server, kept in a bounded ring so `since`
 * can replay recent ones.
 */
export class EventBus {
  readonly #ring: ApiEvent[] = [];
  readonly #listeners = new Set<(e: ApiEvent) => void>();
  readonly #max: number;

  constructor(max = 1024) {
    this.#max = max;
  }

  /** Records and broadcasts an event. */
  emit(
    type: ApiEvent["Type"],
    action: string,
    id: string,
    attributes: Record<string, string> = {},
  ): void {
    const nowMs = Date.now();
    const e: ApiEvent = {
      Type: type,
      Action: action,
      Actor: { ID: id, Attributes: attributes },
      scope: "local",
      time: Math.floor(nowMs / 1000),
      timeNano: nowMs * 1_000_000,
    };
    if (type === "container" || type === "image") {
      e.status = action;
      e.id = id;
      if (attributes.image) e.from = attributes.image;
    }
    this.#ring.push(e);
    if (this.#ring.length > this.#max) this.#ring.shift();
    for (const l of this.#listeners) l(e);
  }

  /** Events recorded at or after `sinceNano`. */
  since(sinceNano: number): ApiEvent[] {
    return this.#ring.filter((e) => e.timeNano >= sinceNano);
  }

  /** Subscribes; returns the unsubscribe function. */
  subscribe(listener: (e: ApiEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

/** Everything a handler may use. */
export interface ApiContext {
  engine: EngineApi;
  daemon: DaemonInfo;
  events: EventBus;
  /** Per-container facts the engine does not keep (attach sessions, console sizes, …). */
  state: Map<string, unknown>;
}

/** A request as handlers see it. */
export interface ApiRequest {
  http: HttpRequest;
  params: Params;
  /** API version from the path prefix (undefined for unversioned paths). */
  version?: string;
  query: URLSearchParams;
  /** Docker's boolean rule: absent → `fallback`; `""`, `0`, `no`, `false`, `none` → false. */
  bool(name: string, fallback?: boolean): boolean;
  /** An integer parameter; undefined when absent or empty; 400 when not a number. */
  int(name: string): number | undefined;
  /** The JSON body; `{}`/undefined when empty. 400 on malformed JSON. */
  json(): Promise<unknown>;
  /** The raw body bytes (bounded). */
  bytes(limit?: number): Promise<Uint8Array>;
}

const FALSE_WORDS = new Set(["", "0", "no", "false", "none"]);
const MAX_JSON_BODY = 32 * 1024 * 1024;

/** Builds the {@link ApiRequest} view. */
export function apiRequest(http: HttpRequest, params: Params, version?: string): ApiRequest {
  let bodyBytes: Promise<Uint8Array> | undefined;
  const bytes = (limit = MAX_JSON_BODY): Promise<Uint8Array> => {
    bodyBytes ??= (async () => {
      const chunks: Uint8Array[] = [];
      let total = 0;
      for await (const c of http.body) {
        total += c.length;
        if (total > limit) {
          throw new InvalidArgumentError(`Request body larger than ${limit} bytes`);
        }
        chunks.push(c);
      }
      const out = new Uint8Array(total);
      let off = 0;
      for (const c of chunks) {
        out.set(c, off);
        off += c.length;
      }
      return out;
    })();
    return bodyBytes;
  };
  return {
    http,
    params,
    version,
    query: http.query,
    bool(name: string, fallback = false): boolean {
      const v = http.query.get(name);
      if (v === null) return fallback;
      return !FALSE_WORDS.has(v.trim().toLowerCase());
    },
    int(name: string): number | undefined {
      const v = http.query.get(name);
      if (v === null || v.trim() === "") return undefined;
      const n = Number(v);
      if (!Number.isInteger(n)) {
        throw new InvalidArgumentError(`Invalid value for "${name}": "${v}" is not an integer`);
      }
      return n;
    },
    async json(): Promise<unknown> {
      const b = await bytes();
      const text = new TextDecoder().decode(b).trim();
      if (text === "") return undefined;
      try {
        return JSON.parse(text);
      } catch (err) {
        throw new InvalidArgumentError(`Invalid JSON body: ${(err as Error).message}`, {
          cause: err,
        });
      }
    },
    bytes,
  };
}

/** A handler of one route. */
export type ApiHandler = (req: ApiRequest, res: ResponseWriter, ctx: ApiContext) => Promise<void>;

/** Something handlers register into. */
export interface RouteTable {
  add(method: string, pattern: string, handler: ApiHandler): unknown;
}

/** Sends `value` as JSON with a trailing newline, as dockerd does. */
export function sendJson(res: ResponseWriter, status: number, value: unknown): Promise<void> {
  return res.send(status, JSON.stringify(value) + "\n", { "Content-Type": "application/json" });
}

/** HTTP status for any thrown value (DockerTsError kinds; everything else 500). */
export function errorStatus(err: unknown): number {
  if (err instanceof DockerTsError) return err.httpStatus;
  return 500;
}

/** Sends Docker's error body `{"message": "..."}\n` with the mapped status. */
export function sendError(res: ResponseWriter, err: unknown): Promise<void> {
  return sendJson(res, errorStatus(err), { message: describeError(err) });
}

/** Unix seconds → RFC 3339 (docker's zero time for 0). */
export function isoFromUnix(seconds: number): string {
  return seconds > 0 ? new Date(seconds * 1000).toISOString() : "0001-01-01T00:00:00Z";
}
