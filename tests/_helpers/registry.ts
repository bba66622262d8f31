/**
 * A real registry for tests: Debian's `docker-registry` (distribution 2.8) on a free 127.0.0.1
 * port with temp storage, optionally behind Basic auth (bcrypt htpasswd) or bearer tokens issued
 * by a tiny token server written here (ES256 JWTs with an x5c chain the registry trusts).
 * Also a fault-injecting proxy to serve corrupt, truncated or failing responses.
 *
 * ```ts
 * const reg = await startRegistry({ auth: "token" });
 * try { … `${reg.host}/busybox:latest` … } finally { await reg.stop(); }
 * ```
 *
 * @module
 */
import * as path from "node:path";
import { Buffer } from "node:buffer";

/** Options of {@link startRegistry}. */
export interface RegistryOptions {
  /** No auth (default), Basic (htpasswd) or bearer-token auth. */
  auth?: "basic" | "token";
  /** user → password accepted by the registry (default `{ tester: "s3cret" }`). */
  users?: Record<string, string>;
  /** Token auth only: grant anonymous pulls (default false: anonymous gets no access). */
  anonymousPull?: boolean;
}

/** A running registry. */
export interface RunningRegistry {
  /** `127.0.0.1:<port>` — use as the reference domain. */
  host: string;
  /** Registry storage directory. */
  dataDir: string;
  /** Token server origin (token auth only). */
  tokenUrl?: string;
  /** Number of token requests served (token auth only). */
  tokenRequests: () => number;
  /** Stops the registry (and token server) and removes its files. */
  stop(): Promise<void>;
}

/** Users every test registry accepts by default. */
export const DEFAULT_USERS: Readonly<Record<string, string>> = { tester: "s3cret" };

/** A free TCP port on 127.0.0.1 (bound, then released). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function run(cmd: string, args: string[], stdin?: string): Promise<string> {
  const c = new Deno.Command(cmd, {
    args,
    stdout: "piped",
    stderr: "piped",
    stdin: stdin ? "piped" : "null",
  });
  const p = c.spawn();
  if (stdin) {
    const w = p.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const out = await p.output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout);
}

/** bcrypt htpasswd lines via `htpasswd` (apache2-utils), else Debian's python3 `crypt`. */
async function htpasswdLines(users: Record<string, string>): Promise<string> {
  const lines: string[] = [];
  for (const [u, p] of Object.entries(users)) {
    try {
      lines.push((await run("htpasswd", ["-Bbn", u, p])).trim());
    } catch {
      const py =
        "import crypt,sys;print(crypt.crypt(sys.argv[1],crypt.mksalt(crypt.METHOD_BLOWFISH)))";
      const hash = (await run("/usr/bin/python3", ["-W", "ignore", "-c", py, p])).trim();
      lines.push(`${u}:${hash}`);
    }
  }
  return lines.join("\n") + "\n";
}

function b64url(data: Uint8Array | string): string {
  return Buffer.from(typeof data === "string" ? new TextEncoder().encode(data) : data).toString(
    "base64url",
  );
}

function pemBody(pem: string): Uint8Array<ArrayBuffer> {
  const b64 = pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
  return new Uint8Array(Buffer.from(b64, "base64"));
}

interface TokenServer {
  url: string;
  count: () => number;
  close: () => Promise<void>;
}

async function startTokenServer(
  dir: string,
  service: string,
  issuer: string,
  users: Record<string, string>,
  anonymousPull: boolean,
): Promise<TokenServer & { certFile: string }> {
  const keyFile = path.join(dir, "token.key");
  const certFile = path.join(dir, "token.crt");
  await run("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    keyFile,
    "-out",
    certFile,
    "-days",
    "2",
    "-subj",
    "/CN=docker-ts test token issuer",
  ]);
  const key = await crypto.subtle.importKey(
    "pkcs8",
    pemBody(await Deno.readTextFile(keyFile)),
    { name: "ECDSA", namedCurve: "P-256" },
    false,
    ["sign"],
  );
  const certDer = Buffer.from(pemBody(await Deno.readTextFile(certFile))).toString("base64");
  let served = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    served++;
    const url = new URL(req.url);
    const auth = req.headers.get("authorization");
    let user: string | undefined;
    if (auth?.startsWith("Basic ")) {
      const [u, p] = Buffer.from(auth.slice(6), "base64").toString().split(/:(.*)/s);
      if (users[u] !== p) {
        return Response.json({
          errors: [{ code: "UNAUTHORIZED", message: "incorrect username or password" }],
        }, {
          status: 401,
        });
      }
      user = u;
    }
    const access = url.searchParams.getAll("scope").flatMap((s) => {
      const m = /^repository:(.+):([a-z,*]+)$/.exec(s);
      if (!m) return [];
      const wanted = m[2].split(",");
      const granted = user !== undefined
        ? wanted
        : anonymousPull
        ? wanted.filter((a) => a === "pull")
        : [];
      return [{ type: "repository", name: m[1], actions: granted }];
    });
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: "JWT", alg: "ES256", x5c: [certDer] };
    const claims = {
      iss: issuer,
      sub: user ?? "",
      aud: service,
      exp: now + 300,
      nbf: now - 10,
      iat: now,
      jti: crypto.randomUUID(),
      access,
    };
    const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const sig = new Uint8Array(
      await crypto.subtle.sign(
        { name: "ECDSA", hash: "SHA-256" },
        key,
        new TextEncoder().encode(signingInput),
      ),
    );
    const token = `${signingInput}.${b64url(sig)}`;
    return Response.json({
      token,
      access_token: token,
      expires_in: 300,
      issued_at: new Date().toISOString(),
    });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    count: () => served,
    close: () => server.shutdown(),
    certFile,
  };
}

async function waitReady(host: string, proc: Deno.ChildProcess, logFile: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`http://${host}/v2/`);
      await res.body?.cancel();
      if (res.status === 200 || res.status === 401) return;
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  try {
    proc.kill("SIGKILL");
  } catch { /* gone */ }
  await proc.status;
  throw new Error(
    `docker-registry did not start on ${host}: ${await Deno.readTextFile(logFile).catch(() => "")}`,
  );
}

/** Starts a real `docker-registry` on a free 127.0.0.1 port. */
export async function startRegistry(options: RegistryOptions = {}): Promise<RunningRegistry> {
  const dir = await Deno.makeTempDir({ prefix: "docker-ts-registry-" });
  const users = options.users ?? DEFAULT_USERS;
  const port = freePort();
  const host = `127.0.0.1:${port}`;
  const dataDir = path.join(dir, "data");
  let token: (TokenServer & { certFile: string }) | undefined;
  let authYaml = "";
  if (options.auth === "basic") {
    const file = path.join(dir, "htpasswd");
    await Deno.writeTextFile(file, await htpasswdLines(users));
    authYaml = `auth:\n  htpasswd:\n    realm: basic-realm\n    path: ${file}\n`;
  } else if (options.auth === "token") {
    token = await startTokenServer(
      dir,
      "docker-ts-test",
      "docker-ts-test-issuer",
      users,
      options.anonymousPull ?? false,
    );
    authYaml = `auth:\n  token:\n    realm: ${token.url}/token\n    service: docker-ts-test\n` +
      `    issuer: docker-ts-test-issuer\n    rootcertbundle: ${token.certFile}\n`;
  }
  const config = `version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${dataDir}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: ${host}
${authYaml}`;
  const configFile = path.join(dir, "config.yml");
  await Deno.writeTextFile(configFile, config);
  const logFile = path.join(dir, "registry.log");
  const log = await Deno.open(logFile, { write: true, create: true });
  const proc = new Deno.Command("/usr/bin/docker-registry", {
    args: ["serve", configFile],
    stdout: "null",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  proc.stderr.pipeTo(log.writable).catch(() => {});
  await waitReady(host, proc, logFile);
  return {
    host,
    dataDir,
    tokenUrl: token?.url,
    tokenRequests: () => token?.count() ?? 0,
    async stop() {
      try {
        proc.kill("SIGTERM");
      } catch { /* already gone */ }
      await proc.status;
      await token?.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** Rewrites a proxied response; return undefined to pass it through unchanged. */
export type FaultHandler = (
  req: Request,
  upstream: () => Promise<Response>,
) => Promise<Response | undefined> | Response | undefined;

/** A proxy in front of a registry whose responses a test can tamper with. */
export interface FaultProxy {
  /** `127.0.0.1:<port>` */
  host: string;
  /** Requests seen, as `METHOD path`. */
  seen: string[];
  stop(): Promise<void>;
}

/**
 * Starts a proxy on a free 127.0.0.1 port forwarding to `upstreamHost`. The handler sees every
 * request and may answer it itself (corrupt blob, truncated body, 500, malformed JSON).
 */
export function startFaultProxy(upstreamHost: string, handler: FaultHandler): FaultProxy {
  const seen: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    seen.push(`${req.method} ${url.pathname}`);
    const upstream = async (): Promise<Response> => {
      const headers = new Headers(req.headers);
      headers.delete("host");
      const body = req.method === "GET" || req.method === "HEAD"
        ? undefined
        : new Uint8Array(await req.arrayBuffer());
      const res = await fetch(`http://${upstreamHost}${url.pathname}${url.search}`, {
        method: req.method,
        headers,
        body,
        redirect: "manual",
      });
      return res;
    };
    const custom = await handler(req, upstream);
    if (custom !== undefined) return custom;
    const res = await upstream();
    return new Response(res.body, { status: res.status, headers: res.headers });
  });
  return {
    host: `127.0.0.1:${server.addr.port}`,
    seen,
    stop: () => server.shutdown(),
  };
}
