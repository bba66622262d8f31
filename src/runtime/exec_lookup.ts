/**
 * Finds the program to exec inside the container, with Docker's (runc's) semantics: a name with a
 * `/` is used as is; any other name is searched in the container's `PATH` (from the process env,
 * else Docker's default). Failures carry Docker's exit codes: 127 not found, 126 cannot execute.
 *
 * @module
 */

/** Docker's default PATH for a container whose env has none. */
export const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** The outcome of a lookup. */
export type LookupResult =
  | { ok: true; path: string }
  | { ok: false; exitCode: 126 | 127; message: string };

/** The file facts the lookup needs; `Deno.statSync` by default, a fake in tests. */
export type StatFn = (
  path: string,
) => { isFile: boolean; isDirectory: boolean; mode: number | null };

function defaultStat(p: string): { isFile: boolean; isDirectory: boolean; mode: number | null } {
  return Deno.statSync(p);
}

function check(p: string, stat: StatFn): "ok" | "missing" | "dir" | "noexec" {
  let st;
  try {
    st = stat(p);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory) {
      return "missing";
    }
    return "noexec";
  }
  if (st.isDirectory) return "dir";
  if ((st.mode ?? 0) & 0o111) return "ok";
  return "noexec";
}

/** The value of PATH in an env list (`NAME=value` strings), or the default. */
export function pathFromEnv(env: readonly string[]): string {
  for (const e of env) if (e.startsWith("PATH=")) return e.slice(5);
  return DEFAULT_PATH;
}

/**
 * Resolves `name` the way `docker run` does. Relative PATH entries (and the empty entry, meaning
 * the current directory) resolve against `cwd`.
 */
export function lookupExecutable(
  name: string,
  env: readonly string[],
  options: { cwd?: string; stat?: StatFn } = {},
): LookupResult {
  const stat = options.stat ?? defaultStat;
  const cwd = options.cwd ?? "/";
  if (name === "") {
    return { ok: false, exitCode: 127, message: `exec: "": executable file not found in $PATH` };
  }
  if (name.includes("/")) {
    const full = name.startsWith("/") ? name : joinPath(cwd, name);
    switch (check(full, stat)) {
      case "ok":
        return { ok: true, path: full };
      case "missing":
        return { ok: false, exitCode: 127, message: `exec: "${name}": no such file or directory` };
      case "dir":
        return { ok: false, exitCode: 126, message: `exec: "${name}": is a directory` };
      default:
        return { ok: false, exitCode: 126, message: `exec: "${name}": permission denied` };
    }
  }
  for (const dir of pathFromEnv(env).split(":")) {
    const base = dir === "" ? "." : dir;
    const candidate = joinPath(base.startsWith("/") ? "" : cwd, base, name);
    if (check(candidate, stat) === "ok") return { ok: true, path: candidate };
  }
  return {
    ok: false,
    exitCode: 127,
    message: `exec: "${name}": executable file not found in $PATH`,
  };
}

/** Exit code and message for a failed execve(2), by errno name. */
export function execFailure(name: string, code: string): { exitCode: 126 | 127; message: string } {
  switch (code) {
    case "ENOENT":
      return { exitCode: 127, message: `exec: "${name}": no such file or directory` };
    case "ENOEXEC":
      return { exitCode: 126, message: `exec: "${name}": exec format error` };
    case "EISDIR":
      return { exitCode: 126, message: `exec: "${name}": is a directory` };
    case "EACCES":
      return { exitCode: 126, message: `exec: "${name}": permission denied` };
    case "EPERM":
      // Not a file mode: a security policy (seccomp, no_new_privs with a setuid file) said no.
      return { exitCode: 126, message: `exec: "${name}": operation not permitted` };
    case "E2BIG":
      return { exitCode: 126, message: `exec: "${name}": argument list too long` };
    case "ETXTBSY":
      return { exitCode: 126, message: `exec: "${name}": text file busy` };
    case "ELOOP":
      return { exitCode: 126, message: `exec: "${name}": too many levels of symbolic links` };
    case "ENAMETOOLONG":
      return { exitCode: 126, message: `exec: "${name}": file name too long` };
    default:
      return { exitCode: 126, message: `exec: "${name}": ${code}` };
  }
}

function joinPath(...parts: string[]): string {
  const out: string[] = [];
  for (const seg of parts.join("/").split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") out.pop();
    else out.push(seg);
  }
  return "/" + out.join("/");
}
