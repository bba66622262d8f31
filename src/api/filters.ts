/**
 * The `filters` query parameter in both JSON shapes clients send: the docker CLI's map of
 * sets (`{"label":{"k=v":true}}`) and dockerode's map of lists (`{"label":["k=v"]}`).
 *
 * @module
 */
import { InvalidArgumentError } from "../errors.ts";
import type { ContainerStatus, ContainerSummary } from "../engine_api.ts";

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

/** The container states a `status` filter accepts (docker's list). */
const CONTAINER_STATUSES: readonly ContainerStatus[] = [
  "created",
  "restarting",
  "running",
  "removing",
  "paused",
  "exited",
  "dead",
];

/** The filter names `GET /containers/json` and `ps --filter` accept. */
export const CONTAINER_FILTERS: readonly string[] = [
  "id",
  "name",
  "label",
  "status",
  "ancestor",
  "exited",
  "before",
  "since",
];

/**
 * Parses `ps --filter key=value` flags into {@link Filters} (repeated keys accumulate, as docker's
 * `filters.Args`).
 */
export function filtersFromFlags(flags: readonly string[]): Filters {
  const out: Filters = new Map();
  for (const f of flags) {
    const eq = f.indexOf("=");
    if (eq <= 0) throw new InvalidArgumentError(`Bad format of filter (expected name=value)`);
    const key = f.slice(0, eq).trim().toLowerCase();
    out.set(key, [...(out.get(key) ?? []), f.slice(eq + 1)]);
  }
  return out;
}

/** Whether a list must include stopped containers for these filters to mean anything. */
export function containerFiltersNeedAll(filters: Filters): boolean {
  return filters.has("before") || filters.has("since") || filters.has("exited") ||
    (filters.get("status")?.some((s) => s !== "running") ?? false);
}

/** Checks names and `status` values, with docker's wording (400 over the API). */
export function checkContainerFilters(filters: Filters): void {
  checkFilterNames(filters, CONTAINER_FILTERS);
  for (const s of filters.get("status") ?? []) {
    if (!CONTAINER_STATUSES.includes(s as ContainerStatus)) {
      throw new InvalidArgumentError(`Invalid filter 'status=${s}'`);
    }
  }
}

// Docker matches `name` as a regular expression against "/name"; a value that is not one is
// matched as a substring rather than refused.
function nameMatches(pattern: string, names: readonly string[]): boolean {
  let re: RegExp | undefined;
  try {
    re = new RegExp(pattern);
  } catch {
    re = undefined;
  }
  return names.some((n) => re ? re.test(n) : n.includes(pattern));
}

function ancestorMatches(value: string, c: ContainerSummary): boolean {
  const norm = (s: string): string => {
    const noDomain = s.replace(/^docker\.io\/(library\/)?/, "");
    const lastSlash = noDomain.lastIndexOf("/");
    return noDomain.lastIndexOf(":") > lastSlash || noDomain.includes("@")
      ? noDomain
      : `${noDomain}:latest`;
  };
  if (norm(value) === norm(c.Image)) return true;
  const hex = value.replace(/^sha256:/, "");
  return /^[a-f0-9]{4,64}$/.test(hex) && c.ImageID.replace(/^sha256:/, "").startsWith(hex);
}

/**
 * Applies container list filters with docker's semantics: values of one key are alternatives
 * (OR), different keys must all match (AND), every `label` value must match. `resolve` finds
 * the pivot container of `before`/`since`.
 */
export async function filterContainers(
  rows: ContainerSummary[],
  filters: Filters,
  resolve: (ref: string) => Promise<{ Id: string; Created: string }>,
): Promise<ContainerSummary[]> {
  checkContainerFilters(filters);
  let out = rows;
  const f = (name: string, keep: (v: string, c: ContainerSummary) => boolean): void => {
    const values = filters.get(name);
    if (values?.length) out = out.filter((c) => values.some((v) => keep(v, c)));
  };
  f("id", (v, c) => c.Id.startsWith(v));
  f("name", (v, c) => nameMatches(v, c.Names));
  f("status", (v, c) => c.State === v);
  f("ancestor", ancestorMatches);
  f("exited", (v, c) => {
    if (c.State !== "exited") return false;
    const m = /^Exited \((-?\d+)\)/.exec(c.Status);
    return m !== null && Number(m[1]) === Number(v);
  });
  const labels = filters.get("label");
  if (labels?.length) out = out.filter((c) => matchLabels(c.Labels, labels));
  for (const key of ["before", "since"] as const) {
    const v = filters.get(key)?.[0];
    if (v === undefined) continue;
    const pivot = await resolve(v);
    const t = Math.floor(Date.parse(pivot.Created) / 1000);
    out = out.filter((c) =>
      c.Id !== pivot.Id && (key === "before" ? c.Created <= t : c.Created >= t)
    );
  }
  return out;
}
