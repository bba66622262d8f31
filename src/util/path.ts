/**
 * POSIX path helpers for the `run` hot path. `node:path` costs ~8 ms of module loading per
 * process (and pulls Node's compatibility layer); docker-ts only ever needs absolute-or-relative
 * POSIX paths joined, split and resolved against the cwd, which these do without any import.
 *
 * @module
 */

/** Collapses `//`, `.` and `..` (never above `/` for absolute paths); "" becomes ".". */
export function normalizePath(p: string): string {
  const absolute = p.startsWith("/");
  const out: string[] = [];
  for (const part of p.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (out.length > 0 && out[out.length - 1] !== "..") out.pop();
      else if (!absolute) out.push("..");
      continue;
    }
    out.push(part);
  }
  const body = out.join("/");
  if (absolute) return "/" + body;
  return body === "" ? "." : body;
}

/** Joins segments with `/` and normalizes, like `path.posix.join` (no trailing slash kept). */
export function joinPath(...parts: string[]): string {
  return normalizePath(parts.filter((p) => p !== "").join("/"));
}

/** The directory part of `p`, like `path.posix.dirname` ("/" for "/x", "." for "x"). */
export function dirnamePath(p: string): string {
  const trimmed = p.length > 1 ? p.replace(/\/+$/, "") : p;
  const i = trimmed.lastIndexOf("/");
  if (i === -1) return ".";
  if (i === 0) return "/";
  return trimmed.slice(0, i);
}

/** The last segment of `p`, like `path.posix.basename` (without the suffix argument). */
export function basenamePath(p: string): string {
  const trimmed = p.length > 1 ? p.replace(/\/+$/, "") : p;
  return trimmed.slice(trimmed.lastIndexOf("/") + 1);
}

/** `p` made absolute against the current directory and normalized, like `path.resolve(p)`. */
export function resolvePath(p: string): string {
  return normalizePath(p.startsWith("/") ? p : `${Deno.cwd()}/${p}`);
}

/** `n` random bytes as lowercase hex (temp names, ids). */
export function randomHex(n: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(n));
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}
