/**
 * `--env-file` parsing with Docker's rules: one `NAME=value` per line, `#` comments and blank
 * lines skipped, leading whitespace trimmed, the value kept verbatim; a bare `NAME` takes the
 * caller's value or is dropped when unset.
 *
 * @module
 */
import { InvalidArgumentError, NotFoundError } from "../errors.ts";

/** Looks up a variable of the caller's environment. */
export type EnvLookup = (name: string) => string | undefined;

/** Parses env-file content; `source` names the file in errors. */
export function parseEnvFileContent(content: string, source: string, lookup: EnvLookup): string[] {
  const out: string[] = [];
  const lines = content.replace(/^\uFEFF/, "").split(/\r?\n/);
  for (const line of lines) {
    const trimmed = line.replace(/^[ \t\v\f]+/, "");
    if (trimmed === "" || trimmed.startsWith("#")) continue;
    const eq = trimmed.indexOf("=");
    const name = eq < 0 ? trimmed : trimmed.slice(0, eq);
    if (name === "") {
      throw new InvalidArgumentError(
        `Invalid env file "${source}": no variable name on line '${line}'`,
      );
    }
    if (/\s/.test(name)) {
      throw new InvalidArgumentError(
        `Invalid env file "${source}": variable '${name}' contains whitespaces`,
      );
    }
    if (eq >= 0) out.push(`${name}=${trimmed.slice(eq + 1)}`);
    else {
      const v = lookup(name);
      if (v !== undefined) out.push(`${name}=${v}`);
    }
  }
  return out;
}

/** Reads and parses an env file. */
export function readEnvFile(file: string, lookup: EnvLookup): string[] {
  let content: string;
  try {
    content = Deno.readTextFileSync(file);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new NotFoundError(`Cannot read env file "${file}": no such file or directory`, {
        cause: err,
      });
    }
    throw new InvalidArgumentError(`Cannot read env file "${file}"`, { cause: err });
  }
  return parseEnvFileContent(content, file, lookup);
}

/** Resolves `-e` entries: `NAME=value` as is, bare `NAME` from the caller or dropped. */
export function resolveEnvFlags(values: readonly string[], lookup: EnvLookup): string[] {
  const out: string[] = [];
  for (const v of values) {
    const eq = v.indexOf("=");
    if (eq === 0) throw new InvalidArgumentError(`Invalid environment variable: ${v}`);
    if (eq > 0) out.push(v);
    else {
      const val = lookup(v);
      if (val !== undefined) out.push(`${v}=${val}`);
    }
  }
  return out;
}

/** Docker's `ReplaceOrAppendEnvValues`: later entries replace earlier ones of the same name. */
export function mergeEnv(base: readonly string[], overrides: readonly string[]): string[] {
  const out = [...base];
  const index = new Map<string, number>();
  out.forEach((e, i) => index.set(envName(e), i));
  for (const e of overrides) {
    const name = envName(e);
    const at = index.get(name);
    if (at !== undefined) out[at] = e;
    else {
      index.set(name, out.length);
      out.push(e);
    }
  }
  return out;
}

/** Name part of `NAME=value`. */
export function envName(entry: string): string {
  const eq = entry.indexOf("=");
  return eq < 0 ? entry : entry.slice(0, eq);
}
