/**
 * Docker Registry HTTP API v2 / OCI distribution client over `fetch`: `/v2/` ping, bearer-token
 * challenges (anonymous or with credentials), Basic auth, manifests, blobs (following redirects,
 * dropping credentials when the host changes), monolithic blob upload and manifest push, bounded
 * retries with exponential backoff on network errors, 429 and 5xx.
 *
 * Transport: plain http for `localhost`, `127.0.0.0/8`, `::1` and for hosts listed as insecure
 * (see {@link loadInsecureRegistries}); https otherwise.
 *
 * @module
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { Buffer } from "node:buffer";
import {
  DockerTsError,
  InvalidArgumentError,
  NotFoundError,
  UnauthorizedError,
  UnavailableError,
} from "../errors.ts";
import type { Credentials } from "./auth_config.ts";
import { sha256Digest } from "./content_store.ts";
import { MANIFEST_ACCEPT } from "./manifest.ts";
import {
  familiar,
  familiarName,
  manifestReference,
  type Reference,
  registryHost,
} from "./reference.ts";

/** Largest manifest we accept (distribution's own limit is 4 MiB). */
export const MAX_MANIFEST_BYTES = 4 << 20;

/** Options of a {@link RegistryClient}. */
export interface RegistryClientOptions {
  /** Credentials for a registry host (e.g. from {@link AuthConfig.get}). */
  credentials?: (host: string) => Credentials | undefined;
  /** Extra hosts (`host[:port]`) to reach over plain http. */
  insecureRegistries?: readonly string[];
  /** Retries after the first attempt for retryable failures (default 3). */
  retries?: number;
  /** First backoff delay in ms, doubled each retry (default 250). */
  backoffMs?: number;
  /** User-Agent header. */
  userAgent?: string;
}

/** A manifest as fetched: raw bytes (digests are over these exact bytes), type and digest. */
export interface FetchedManifest {
  bytes: Uint8Array;
  mediaType: string;
  digest: string;
}

/** Something that can be uploaded as a blob. */
export type BlobSource = Uint8Array | { size: number; open: () => ReadableStream<Uint8Array> };

/**
 * Reads `<root>/registries.json` (`{"insecure-registries": ["host:port", …]}`, the key docker's
 * daemon.json uses) and the comma-separated env `DOCKER_TS_INSECURE_REGISTRIES`.
 */
export function loadInsecureRegistries(root: string): string[] {
  const out: string[] = [];
  const file = path.join(root, "registries.json");
  try {
    const doc = JSON.parse(fs.readFileSync(file, "utf8"));
    const list = doc?.["insecure-registries"];
    if (Array.isArray(list)) { for (const h of list) if (typeof h === "string") out.push(h); }
  } catch (err) {
    if ((err as { code?: string }).code !== "ENOENT") {
      throw new InvalidArgumentError(`Failed to read "${file}": malformed JSON`, { cause: err });
    }
  }
  const env = Deno.env.get("DOCKER_TS_INSECURE_REGISTRIES");
  if (env) out.push(...env.split(",").map((s) => s.trim()).filter((s) => s !== ""));
  return out;
}

/** Whether a `host[:port]` is loopback (always reached over plain http, as docker does). */
export function isLoopbackHost(host: string): boolean {
  let h = host;
  if (h.startsWith("[")) h = h.slice(1, h.indexOf("]"));
  else if (h.includes(":")) h = h.slice(0, h.lastIndexOf(":"));
  return h === "localhost" || h === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parses a `WWW-Authenticate` header (one challenge, the common case). */
export function parseChallenge(header: string): Challenge | undefined {
  const m = /^\s*(\w+)\s*(.*)$/s.exec(header);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  for (const p of m[2].matchAll(/([\w-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) {
    params[p[1].toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, "$1") : p[3];
  }
  return { scheme: m[1].toLowerCase(), params };
}

interface RegistryErrorBody {
  code?: string;
  message?: string;
}

async function readErrors(res: Response): Promise<RegistryErrorBody[]> {
  try {
    const text = await res.text();
    const doc = JSON.parse(text);
    if (Array.isArray(doc?.errors)) return doc.errors as RegistryErrorBody[];
  } catch { /* not a registry error document */ }
  return [];
}

function errorText(errs: RegistryErrorBody[], fallback: string): string {
  const e = errs[0];
  if (!e) return fallback;
  const code = (e.code ?? "").toLowerCase().replace(/_/g, " ");
  return e.message && code && e.message !== code ? `${code}: ${e.message}` : (e.message ?? code);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

function isRetryableStatus(status: number): boolean {
  return status === 429 || status === 500 || status === 502 || status === 503 || status === 504;
}

/** Reads a response body, refusing more than `limit` bytes. */
export async function readLimited(res: Response, limit: number, what: string): Promise<Uint8Array> {
  if (res.body === null) return new Uint8Array();
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel().catch(() => {});
      throw new InvalidArgumentError(`Failed to read ${what}: larger than ${limit} bytes`);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.byteLength;
  }
  return out;
}

type Scope = "pull" | "pull,push";

interface RequestInit2 {
  method?: string;
  headers?: Record<string, string>;
  body?: Uint8Array | ReadableStream<Uint8Array>;
  /** Absolute URL (upload locations); otherwise `/v2/<path><suffix>`. */
  url?: string;
  suffix?: string;
  signal?: AbortSignal;
  /** Retry on network errors / 5xx (false for streamed bodies). */
  retry?: boolean;
}

/** A registry client shared by pull, push and login. Tokens are cached per host and scope. */
export class RegistryClient {
  readonly #opts: Required<Omit<RegistryClientOptions, "credentials">> & {
    credentials?: (host: string) => Credentials | undefined;
  };
  readonly #tokens = new Map<string, { header: string; expires: number }>();
  readonly #basicHosts = new Set<string>();

  constructor(options: RegistryClientOptions = {}) {
    this.#opts = {
      credentials: options.credentials,
      insecureRegistries: options.insecureRegistries ?? [],
      retries: options.retries ?? 3,
      backoffMs: options.backoffMs ?? 250,
      userAgent: options.userAgent ?? "docker-ts/0.1",
    };
  }

  /** `http` or `https` for a registry host. */
  scheme(host: string): "http" | "https" {
    return isLoopbackHost(host) || this.#opts.insecureRegistries.includes(host) ? "http" : "https";
  }

  #base(host: string): string {
    return `${this.scheme(host)}://${host}`;
  }

  /** One HTTP exchange with retries for transient failures; returns the final response. */
  async #fetchRetrying(
    url: string,
    init: RequestInit,
    retry: boolean,
    host: string,
  ): Promise<Response> {
    const attempts = retry ? this.#opts.retries + 1 : 1;
    let lastErr: unknown;
    for (let i = 0; i < attempts; i++) {
      if (i > 0) await sleep(this.#opts.backoffMs * 2 ** (i - 1), init.signal ?? undefined);
      try {
        const res = await fetch(url, init);
        if (isRetryableStatus(res.status) && i < attempts - 1) {
          await res.body?.cancel().catch(() => {});
          lastErr = new UnavailableError(`Registry "${host}" answered ${res.status} for ${url}`);
          continue;
        }
        return res;
      } catch (err) {
        if (init.signal?.aborted) throw init.signal.reason;
        lastErr = err;
      }
    }
    if (lastErr instanceof DockerTsError) throw lastErr;
    throw new UnavailableError(
      `Cannot reach registry "${host}": ${(lastErr as Error)?.message ?? lastErr}`,
      { cause: lastErr },
    );
  }

  /** Obtains a bearer token for a challenge. */
  async #token(host: string, ch: Challenge, scope: string, signal?: AbortSignal): Promise<string> {
    const key = this.#tokenKey(host, scope);
    const cached = this.#tokens.get(key);
    if (cached && cached.expires > Date.now()) return cached.header;
    const realm = ch.params.realm;
    if (!realm) {
      throw new UnauthorizedError(`Registry "${host}" sent a bearer challenge without a realm`);
    }
    const url = new URL(realm);
    if (ch.params.service) url.searchParams.set("service", ch.params.service);
    if (scope) url.searchParams.set("scope", scope);
    const headers: Record<string, string> = { "User-Agent": this.#opts.userAgent };
    const creds = this.#opts.credentials?.(host);
    if (creds) {
      headers.Authorization = "Basic " +
        Buffer.from(`${creds.username}:${creds.password}`).toString("base64");
    }
    const res = await this.#fetchRetrying(url.href, { headers, signal }, true, url.host);
    if (res.status === 401 || res.status === 403) {
      const errs = await readErrors(res);
      throw new UnauthorizedError(
        `Failed to get a token from "${url.origin}": ${
          errorText(errs, "unauthorized: incorrect username or password")
        }`,
      );
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new UnavailableError(`Failed to get a token from "${url.origin}": HTTP ${res.status}`);
    }
    let body: { token?: string; access_token?: string; expires_in?: number };
    try {
      body = JSON.parse(new TextDecoder().decode(await readLimited(res, 1 << 20, "token")));
    } catch (err) {
      throw new UnavailableError(`Failed to get a token from "${url.origin}": malformed JSON`, {
        cause: err,
      });
    }
    const token = body.token ?? body.access_token;
    if (!token) {
      throw new UnavailableError(
        `Failed to get a token from "${url.origin}": no token in the answer`,
      );
    }
    const header = `Bearer ${token}`;
    // Refresh a little early; registries default to 60 s when they do not say.
    const ttl = Math.max(10, (body.expires_in ?? 60) - 5) * 1000;
    this.#tokens.set(key, { header, expires: Date.now() + ttl });
    return header;
  }

  #basicHeader(host: string): string | undefined {
    const creds = this.#opts.credentials?.(host);
    if (!creds) return undefined;
    return "Basic " + Buffer.from(`${creds.username}:${creds.password}`).toString("base64");
  }

  // Tokens depend on who asked: a token fetched anonymously must not outlive a login.
  #tokenKey(host: string, scope: string): string {
    return `${host} ${scope} ${this.#opts.credentials?.(host)?.username ?? ""}`;
  }

  #cachedAuth(host: string, scope: string): string | undefined {
    if (this.#basicHosts.has(host)) return this.#basicHeader(host);
    const t = this.#tokens.get(this.#tokenKey(host, scope));
    return t && t.expires > Date.now() ? t.header : undefined;
  }

  /**
   * Sends a request, answering one auth challenge if the registry asks for it. The response is
   * returned whatever its status; callers map statuses to errors.
   */
  async #request(ref: Reference, scope: Scope, init: RequestInit2): Promise<Response> {
    const host = registryHost(ref);
    const scopeStr = `repository:${ref.path}:${scope}`;
    const url = init.url ?? `${this.#base(host)}/v2/${ref.path}${init.suffix ?? ""}`;
    const send = (auth: string | undefined): Promise<Response> => {
      const headers: Record<string, string> = {
        "User-Agent": this.#opts.userAgent,
        ...init.headers,
      };
      if (auth) headers.Authorization = auth;
      return this.#fetchRetrying(
        url,
        {
          method: init.method ?? "GET",
          headers,
          body: init.body as BodyInit | undefined,
          signal: init.signal,
          redirect: "manual",
        },
        init.retry ?? true,
        host,
      );
    };
    const cached = this.#cachedAuth(host, scopeStr);
    let res = await send(cached);
    if (res.status !== 401) return res;
    // A cached token was refused (expired or too narrow): fetch a fresh one.
    if (cached !== undefined) this.#tokens.delete(this.#tokenKey(host, scopeStr));
    const ch = parseChallenge(res.headers.get("www-authenticate") ?? "");
    if (ch === undefined) return res;
    let auth: string | undefined;
    if (ch.scheme === "bearer") {
      await res.body?.cancel();
      auth = await this.#token(host, ch, scopeStr, init.signal);
    } else if (ch.scheme === "basic") {
      auth = this.#basicHeader(host);
      if (!auth) return res;
      await res.body?.cancel();
      this.#basicHosts.add(host);
    } else {
      return res;
    }
    if (init.body instanceof ReadableStream) {
      throw new UnauthorizedError(
        `Registry "${host}" asked for credentials in the middle of an upload`,
      );
    }
    res = await send(auth);
    return res;
  }

  /**
   * Checks that a registry answers `/v2/` and accepts the given credentials (for `login`).
   *
   * @throws {UnauthorizedError} when the credentials are refused.
   */
  async ping(host: string, creds?: Credentials, signal?: AbortSignal): Promise<void> {
    const url = `${this.#base(host)}/v2/`;
    const headers: Record<string, string> = { "User-Agent": this.#opts.userAgent };
    let res = await this.#fetchRetrying(url, { headers, signal }, true, host);
    if (res.status === 200) {
      await res.body?.cancel();
      return;
    }
    if (res.status !== 401) {
      await res.body?.cancel();
      throw new UnavailableError(`Registry "${host}" answered ${res.status} for ${url}`);
    }
    const ch = parseChallenge(res.headers.get("www-authenticate") ?? "");
    await res.body?.cancel();
    if (!creds) throw new UnauthorizedError(`Login to "${host}" failed: credentials required`);
    const basic = "Basic " + Buffer.from(`${creds.username}:${creds.password}`).toString("base64");
    if (ch?.scheme === "bearer") {
      const probe = new RegistryClient({ ...this.#opts, credentials: () => creds });
      try {
        await probe.#token(host, ch, "", signal);
      } catch (err) {
        if (err instanceof UnauthorizedError) {
          throw new UnauthorizedError(
            `Login to "${host}" failed: unauthorized: incorrect username or password`,
            { cause: err },
          );
        }
        throw err;
      }
      return;
    }
    res = await this.#fetchRetrying(
      url,
      { headers: { ...headers, Authorization: basic }, signal },
      true,
      host,
    );
    await res.body?.cancel();
    if (res.status !== 200) {
      throw new UnauthorizedError(
        `Login to "${host}" failed: unauthorized: incorrect username or password`,
      );
    }
  }

  /**
   * Fetches a manifest by tag or digest (the reference's digest wins). Verifies the digest when
   * asked by digest.
   */
  async getManifest(
    ref: Reference,
    signal?: AbortSignal,
    reference = manifestReference(ref),
  ): Promise<FetchedManifest> {
    const res = await this.#request(ref, "pull", {
      suffix: `/manifests/${reference}`,
      headers: { Accept: MANIFEST_ACCEPT },
      signal,
    });
    if (!res.ok) await this.#throwFor(res, ref, "manifest");
    const bytes = await readLimited(res, MAX_MANIFEST_BYTES, `manifest for ${familiar(ref)}`);
    const digest = sha256Digest(bytes);
    if (reference.startsWith("sha256:") && digest !== reference) {
      throw new InvalidArgumentError(
        `Failed to verify manifest for ${
          familiar(ref)
        }: content has digest "${digest}", expected "${reference}"`,
      );
    }
    const mediaType = (res.headers.get("content-type") ?? "").split(";")[0].trim();
    return { bytes, mediaType, digest };
  }

  /** Opens a blob for download, following redirects (credentials are not sent to other hosts). */
  async getBlob(ref: Reference, digest: string, signal?: AbortSignal): Promise<Response> {
    let res = await this.#request(ref, "pull", { suffix: `/blobs/${digest}`, signal });
    const origin = new URL(`${this.#base(registryHost(ref))}/`).origin;
    for (
      let hops = 0;
      res.status >= 300 && res.status < 400 && res.headers.has("location");
      hops++
    ) {
      if (hops >= 10) throw new UnavailableError(`Too many redirects fetching blob "${digest}"`);
      const next = new URL(res.headers.get("location")!, res.url || origin);
      await res.body?.cancel();
      const headers: Record<string, string> = { "User-Agent": this.#opts.userAgent };
      if (next.origin === origin) {
        const auth = this.#cachedAuth(registryHost(ref), `repository:${ref.path}:pull`);
        if (auth) headers.Authorization = auth;
      }
      res = await this.#fetchRetrying(
        next.href,
        { headers, signal, redirect: "manual" },
        true,
        next.host,
      );
    }
    if (!res.ok) await this.#throwFor(res, ref, "blob", digest);
    return res;
  }

  /** Whether the repository already has a blob (HEAD). */
  async hasBlob(ref: Reference, digest: string, signal?: AbortSignal): Promise<boolean> {
    const res = await this.#request(ref, "pull,push", {
      method: "HEAD",
      suffix: `/blobs/${digest}`,
      signal,
    });
    await res.body?.cancel();
    if (res.status === 200 || (res.status >= 300 && res.status < 400)) return true;
    if (res.status === 404) return false;
    await this.#throwFor(res, ref, "push");
    return false;
  }

  /** Uploads a blob (POST then monolithic PUT), skipping it when the registry has it. */
  async pushBlob(
    ref: Reference,
    digest: string,
    source: BlobSource,
    signal?: AbortSignal,
  ): Promise<void> {
    if (await this.hasBlob(ref, digest, signal)) return;
    const start = await this.#request(ref, "pull,push", {
      method: "POST",
      suffix: "/blobs/uploads/",
      headers: { "Content-Length": "0" },
      signal,
    });
    if (start.status !== 202) await this.#throwFor(start, ref, "push");
    await start.body?.cancel();
    const loc = start.headers.get("location");
    if (!loc) throw new UnavailableError(`Registry "${registryHost(ref)}" gave no upload location`);
    const url = new URL(loc, `${this.#base(registryHost(ref))}/`);
    url.searchParams.set("digest", digest);
    const size = source instanceof Uint8Array ? source.byteLength : source.size;
    const body = source instanceof Uint8Array ? source : source.open();
    const res = await this.#request(ref, "pull,push", {
      method: "PUT",
      url: url.href,
      headers: { "Content-Type": "application/octet-stream", "Content-Length": String(size) },
      body,
      signal,
      retry: source instanceof Uint8Array,
    });
    if (res.status !== 201) await this.#throwFor(res, ref, "push", digest);
    await res.body?.cancel();
  }

  /** Uploads a manifest under a tag or digest. Returns its digest. */
  async putManifest(
    ref: Reference,
    reference: string,
    bytes: Uint8Array,
    mediaType: string,
    signal?: AbortSignal,
  ): Promise<string> {
    const res = await this.#request(ref, "pull,push", {
      method: "PUT",
      suffix: `/manifests/${reference}`,
      headers: { "Content-Type": mediaType },
      body: bytes,
      signal,
    });
    if (res.status !== 201 && res.status !== 200) await this.#throwFor(res, ref, "push");
    await res.body?.cancel();
    return sha256Digest(bytes);
  }

  async #throwFor(
    res: Response,
    ref: Reference,
    what: "manifest" | "blob" | "push",
    digest?: string,
  ): Promise<never> {
    const errs = await readErrors(res);
    const code = errs[0]?.code;
    const detail = errorText(errs, `HTTP ${res.status}`);
    if (res.status === 401 || res.status === 403) {
      if (what === "push") {
        throw new UnauthorizedError(
          `denied: requested access to the resource is denied (push to ${
            familiarName(ref)
          }: ${detail})`,
        );
      }
      throw new UnauthorizedError(
        `pull access denied for ${
          familiarName(ref)
        }, repository does not exist or may require 'docker login': ${detail}`,
      );
    }
    if (res.status === 404) {
      if (code === "NAME_UNKNOWN") {
        throw new NotFoundError(`repository ${familiarName(ref)} not found: ${detail}`);
      }
      if (what === "manifest") {
        throw new NotFoundError(`manifest for ${familiar(ref)} not found: manifest unknown`);
      }
      if (what === "blob") {
        throw new NotFoundError(`blob "${digest}" of ${familiarName(ref)} not found: blob unknown`);
      }
    }
    if (res.status >= 500 || res.status === 429) {
      throw new UnavailableError(`Registry "${registryHost(ref)}" failed: ${detail}`);
    }
    throw new InvalidArgumentError(
      `Registry "${registryHost(ref)}" refused ${what}${digest ? ` "${digest}"` : ""}: ${detail}`,
    );
  }
}
