/**
 * Routes Engine API requests: strips and checks the `/v1.NN` prefix, then matches path
 * patterns. `{name}` matches one segment; `{name+}` matches one or more (image references carry
 * unescaped `/` and `:`), anchored by the static segments on its right, so
 * `/images/127.0.0.1:5000/busybox/json` gives `name = "127.0.0.1:5000/busybox"`.
 *
 * @module
 */
import { InvalidArgumentError } from "../errors.ts";

/** The API version advertised and the highest accepted. */
export const API_VERSION = "1.41";
/** The oldest API version accepted. */
export const MIN_API_VERSION = "1.12";

/** Path parameters by name (decoded). */
export type Params = Record<string, string>;

interface Route<H> {
  method: string;
  segments: string[];
  /** Index of the `{x+}` segment, or -1. */
  greedy: number;
  handler: H;
}

/** A successful match. */
export interface RouteMatch<H> {
  handler: H;
  params: Params;
  /** The version from the path prefix, or undefined for unversioned paths. */
  version?: string;
}

function compareVersions(a: string, b: string): number {
  const [am, an] = a.split(".").map(Number);
  const [bm, bn] = b.split(".").map(Number);
  return am !== bm ? am - bm : an - bn;
}

/**
 * Splits `/v1.41/containers/x/json` into the version and the rest. Throws InvalidArgumentError
 * (400) with Docker's wording for versions out of range.
 */
export function splitVersion(path: string): { version?: string; rest: string } {
  const m = /^\/v(\d+\.\d+)(\/.*)?$/.exec(path);
  if (!m) return { rest: path };
  const version = m[1];
  if (compareVersions(version, API_VERSION) > 0) {
    throw new InvalidArgumentError(
      `client version ${version} is too new. Maximum supported API version is ${API_VERSION}`,
    );
  }
  if (compareVersions(version, MIN_API_VERSION) < 0) {
    throw new InvalidArgumentError(
      `client version ${version} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`,
    );
  }
  return { version, rest: m[2] ?? "/" };
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * A method + path-pattern table; first registered match wins, so register static paths
 * (`/images/json`) before patterns that could also match them.
 *
 * @example
 * ```ts
 * import { Router } from "./router.ts";
 * const r = new Router<string>();
 * r.add("GET", "/images/{name+}/json", "inspect");
 * const m = r.match("GET", "/v1.41/images/127.0.0.1:5000/busybox:1/json");
 * console.assert(m?.params.name === "127.0.0.1:5000/busybox:1" && m.version === "1.41");
 * ```
 */
export class Router<H> {
  readonly #routes: Route<H>[] = [];

  /** Registers a handler. */
  add(method: string, pattern: string, handler: H): this {
    const segments = pattern.split("/").filter((s) => s !== "");
    const greedy = segments.findIndex((s) => /^\{\w+\+\}$/.test(s));
    this.#routes.push({ method: method.toUpperCase(), segments, greedy, handler });
    return this;
  }

  /**
   * Finds the handler for a request path (raw, percent-encoded). Returns undefined when no
   * route matches; throws InvalidArgumentError for an unsupported version prefix.
   */
  match(method: string, rawPath: string): RouteMatch<H> | undefined {
    const { version, rest } = splitVersion(rawPath);
    const parts = rest.split("/").filter((s) => s !== "");
    // HEAD is served by GET handlers unless one is registered for it.
    const methods = method === "HEAD" ? ["HEAD", "GET"] : [method];
    for (const m of methods) {
      for (const route of this.#routes) {
        if (route.method !== m) continue;
        const params = matchSegments(route, parts);
        if (params) return { handler: route.handler, params, version };
      }
    }
    return undefined;
  }
}

function matchSegments<H>(route: Route<H>, parts: string[]): Params | undefined {
  const segs = route.segments;
  const params: Params = {};
  const one = (pattern: string, value: string): boolean => {
    const p = /^\{(\w+)\}$/.exec(pattern);
    if (p) {
      params[p[1]] = decodeSegment(value);
      return true;
    }
    return pattern === value;
  };
  if (route.greedy < 0) {
    if (segs.length !== parts.length) return undefined;
    for (let i = 0; i < segs.length; i++) if (!one(segs[i], parts[i])) return undefined;
    return params;
  }
  const before = route.greedy;
  const after = segs.length - route.greedy - 1;
  if (parts.length < before + after + 1) return undefined;
  for (let i = 0; i < before; i++) if (!one(segs[i], parts[i])) return undefined;
  for (let i = 0; i < after; i++) {
    if (!one(segs[segs.length - 1 - i], parts[parts.length - 1 - i])) return undefined;
  }
  const name = /^\{(\w+)\+\}$/.exec(segs[route.greedy])![1];
  params[name] = parts.slice(before, parts.length - after).map(decodeSegment).join("/");
  return params;
}
