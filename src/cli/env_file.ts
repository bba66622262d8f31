/**
 * Client-side environment resolution as docker's CLI does it: `--env-file` lines and `-e NAME`
 * (no `=`) take the caller's value or are dropped when unset. Done in the CLI so a remote engine
 * sees final `NAME=value` pairs.
 *
 * @module
 */
import { CliError } from "./cli_error.ts";

/** Parses one env file's text into `NAME=value` entries (values kept verbatim, no quoting). */
export function parseEnvFileText(
  text: string,
  file: string,
  lookup: (name: string) => string | undefined,
): string[] {
  const out: string[] = [];
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  lines.forEach((raw, index) => {
    const line = raw.replace(/^\s+/, "");
    if (line === "" || line.startsWith("#")) return;
    const eq = line.indexOf("=");
    const name = eq === -1 ? line : line.slice(0, eq);
    if (name === "") {
      throw new CliError(`invalid environment variable: ${line} (${file}:${index + 1})`, 125);
    }
    if (/\s/.test(name)) {
      throw new CliError(`variable '${name.trimEnd()}' contains whitespaces`, 125);
    }
    if (eq !== -1) out.push(line);
    else {
      const value = lookup(name);
      if (value !== undefined) out.push(`${name}=${value}`);
    }
  });
  return out;
}

/** Resolves `--env-file` files then `-e` values (later entries win in the engine). */
export function resolveEnv(
  envFiles: readonly string[],
  env: readonly string[],
  lookup: (name: string) => string | undefined,
): string[] {
  const out: string[] = [];
  for (const file of envFiles) {
    let text: string;
    try {
      text = Deno.readTextFileSync(file);
    } catch (err) {
      const why = err instanceof Deno.errors.NotFound ? "no such file or directory" : String(
        (err as Error).message,
      );
      throw new CliError(`open ${file}: ${why}`, 125);
    }
    out.push(...parseEnvFileText(text, file, lookup));
  }
  for (const e of env) {
    if (e.startsWith("=")) throw new CliError(`invalid environment variable: ${e}`, 125);
    if (e.includes("=")) out.push(e);
    else {
      const value = lookup(e);
      if (value !== undefined) out.push(`${e}=${value}`);
    }
  }
  return out;
}
