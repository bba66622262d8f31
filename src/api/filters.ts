/**
 * The `filters` query parameter in both JSON shapes clients send: the docker CLI's map of
 * sets (`{"label":{"k=v":true}}`) and dockerode's map of lists (`{"label":["k=v"]}`).
 *
 * @module
 */
import { InvalidArgumentError } from "../errors.ts";

/** Filter name → accepted values. */
export type Filters = Map<string, string[]>;

/**
 * Parses a `filters` value; an absent or empty value gives no filters.
 *
 * @example
 * ```ts
 * import { parseFilters } from "./filters.ts";
 * const a = parseFilters('{"status":{"running":true}}');
 * const b = parseFilters('{"status":["running"]}');
 * console.assert(a.get("status")![0] === "running" && b.get("status")![0] === "running");
 * ```
 */
export function parseFilters(raw: string | null | undefined): Filters {
  const out: Filters = new Map();
  if (raw === null || raw === undefined || raw.trim() === "") return out;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (err) {
    throw new InvalidArgumentError(`Invalid filter "${raw}": not JSON`, { cause: err });
  }
  if (value === null) return out;
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new InvalidArgumentError(`Invalid filter "${raw}": expected a JSON object`);
  }
  for (const [name, v] of Object.entries(value as Record<string, unknown>)) {
    let values: string[];
    if (Array.isArray(v)) {
      values = v.map(String);
    } else if (v && typeof v === "object") {
      // The set form: only keys mapped to true count (docker's `map[string]bool`).
      values = Object.entries(v as Record<string, unknown>).filter(([, on]) => on === true).map((
        [k],
      ) => k);
    } else if (typeof v === "string") {
      values = [v];
    } else {
      throw new InvalidArgumentError(`Invalid filter "${name}": unexpected value`);
    }
    out.set(name, values);
  }
  return out;
}

/** Throws for filter names outside `allowed`, with docker's wording. */
export function checkFilterNames(filters: Filters, allowed: readonly string[]): void {
  for (const name of filters.keys()) {
    if (!allowed.includes(name)) {
      throw new InvalidArgumentError(`invalid filter '${name}'`);
    }
  }
}

/**
 * Whether a label set satisfies every `label` filter value (`key` present, or `key=value`).
 */
export function matchLabels(
  labels: Record<string, string> | null | undefined,
  wanted: readonly string[],
): boolean {
  const have = labels ?? {};
  return wanted.every((w) => {
    const eq = w.indexOf("=");
    if (eq < 0) return Object.hasOwn(have, w);
    const k = w.slice(0, eq);
    return Object.hasOwn(have, k) && have[k] === w.slice(eq + 1);
  });
}
