/**
 * Registry credentials in docker's `~/.docker/config.json` format:
 * `{ "auths": { "<host>": { "auth": base64("user:pass") } } }`. Other keys in the file are kept
 * untouched when login/logout rewrite it. The file location follows docker: `$DOCKER_CONFIG/
 * config.json`, else `$HOME/.docker/config.json`.
 *
 * @module
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { Buffer } from "node:buffer";
import { InvalidArgumentError } from "../errors.ts";
import { atomicWriteFileSync } from "../util/atomic_write.ts";

/** A username/password pair (or identity token as password with user `<token>`). */
export interface Credentials {
  username: string;
  password: string;
}

/** Docker Hub's key in config.json (docker keeps the v1 URL for historical reasons). */
export const DOCKER_HUB_AUTH_KEY = "https://index.docker.io/v1/";

/** Default config.json path for this user. */
export function defaultAuthConfigPath(): string {
  // Empty counts as unset, as in docker's CLI: `DOCKER_CONFIG=` must not put the credentials
  // file in the current directory.
  const dir = Deno.env.get("DOCKER_CONFIG") ||
    path.join(Deno.env.get("HOME") || "/root", ".docker");
  return path.join(dir, "config.json");
}

/** The key a registry host is stored under (docker.io hosts map to docker's hub key). */
export function authKey(host: string): string {
  if (
    host === "docker.io" || host === "index.docker.io" || host === "registry-1.docker.io"
  ) return DOCKER_HUB_AUTH_KEY;
  return host;
}

function normalizeKey(key: string): string {
  // Entries may be written as URLs ("https://host/v1/"): compare by host[:port].
  const stripped = key.replace(/^https?:\/\//, "").replace(/\/.*$/, "");
  return authKey(stripped) === DOCKER_HUB_AUTH_KEY ? DOCKER_HUB_AUTH_KEY : stripped;
}

/** Reads and writes one config.json file. */
export class AuthConfig {
  /** The file this instance reads and writes. */
  readonly file: string;

  constructor(file: string = defaultAuthConfigPath()) {
    this.file = file;
  }

  #read(): Record<string, unknown> {
    let text: string;
    try {
      text = fs.readFileSync(this.file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return {};
      throw err;
    }
    if (text.trim() === "") return {};
    try {
      const doc = JSON.parse(text);
      if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
        throw new Error("not an object");
      }
      return doc;
    } catch (err) {
      throw new InvalidArgumentError(
        `Failed to read credentials from "${this.file}": malformed JSON`,
        {
          cause: err,
        },
      );
    }
  }

  /** Credentials stored for a registry host, if any. */
  get(host: string): Credentials | undefined {
    const auths = this.#read().auths;
    if (typeof auths !== "object" || auths === null) return undefined;
    const want = authKey(host);
    for (const [key, entry] of Object.entries(auths as Record<string, unknown>)) {
      if (normalizeKey(key) !== want || typeof entry !== "object" || entry === null) continue;
      const e = entry as Record<string, unknown>;
      if (typeof e.auth === "string" && e.auth !== "") {
        const decoded = Buffer.from(e.auth, "base64").toString("utf8");
        const colon = decoded.indexOf(":");
        if (colon < 0) continue;
        return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
      }
      if (typeof e.username === "string" && typeof e.password === "string") {
        return { username: e.username, password: e.password };
      }
    }
    return undefined;
  }

  /** Stores credentials for a host (atomic rewrite, mode 0600, other keys kept). */
  set(host: string, creds: Credentials): void {
    const doc = this.#read();
    const auths = (typeof doc.auths === "object" && doc.auths !== null ? doc.auths : {}) as Record<
      string,
      unknown
    >;
    const key = authKey(host);
    for (const k of Object.keys(auths)) if (normalizeKey(k) === key) delete auths[k];
    auths[key] = {
      auth: Buffer.from(`${creds.username}:${creds.password}`, "utf8").toString("base64"),
    };
    doc.auths = auths;
    this.#write(doc);
  }

  /** Removes a host's credentials. Returns whether there were any. */
  remove(host: string): boolean {
    const doc = this.#read();
    if (typeof doc.auths !== "object" || doc.auths === null) return false;
    const auths = doc.auths as Record<string, unknown>;
    const key = authKey(host);
    let found = false;
    for (const k of Object.keys(auths)) {
      if (normalizeKey(k) === key) {
        delete auths[k];
        found = true;
      }
    }
    if (found) this.#write(doc);
    return found;
  }

  #write(doc: Record<string, unknown>): void {
    fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    atomicWriteFileSync(this.file, JSON.stringify(doc, null, "\t") + "\n", { mode: 0o600 });
  }
}
