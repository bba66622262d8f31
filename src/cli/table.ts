/**
 * Docker-style tables and `--format` output. Columns are aligned like Go's tabwriter as docker
 * configures it (`minwidth 10, padding 3`): a cell's column is as wide as its widest cell plus
 * three spaces, at least ten; the last cell of a line is not padded.
 *
 * @module
 */
import { GoTemplate } from "./go_template.ts";

/**
 * Aligns tab-separated lines into columns.
 *
 * @example
 * ```ts
 * alignTabs(["A\tB", "xx\tyy"]); // ["A         B", "xx        yy"]
 * ```
 */
export function alignTabs(lines: readonly string[], minWidth = 10, padding = 3): string[] {
  const rows = lines.map((l) => l.split("\t"));
  const widths: number[] = [];
  for (const cells of rows) {
    // Only cells followed by a tab form columns.
    for (let c = 0; c < cells.length - 1; c++) {
      widths[c] = Math.max(widths[c] ?? 0, displayWidth(cells[c]) + padding, minWidth);
    }
  }
  return rows.map((cells) =>
    cells.map((cell, c) =>
      c < cells.length - 1 ? cell + " ".repeat(widths[c] - displayWidth(cell)) : cell
    ).join("")
  );
}

function displayWidth(s: string): number {
  return [...s].length;
}

/** Replaces the `\t` and `\n` escapes users type in `--format` strings, as docker does. */
export function unescapeFormat(format: string): string {
  return format.replaceAll("\\t", "\t").replaceAll("\\n", "\n");
}

/** How a list verb renders its rows. */
export interface ListFormat {
  /** The user's `--format` (`""` → `defaultTable`). `"table"`, `"json"`, a template. */
  format: string;
  /** The default table template, e.g. `table {{.ID}}\t{{.Image}}`. */
  defaultTable: string;
  /** Header text per field name (`ID` → `CONTAINER ID`). */
  headers: Record<string, string>;
  /**
   * The Go type of docker's row (`*formatter.ContainerContext`): when given, a field the row
   * does not have is an error naming it, as docker's typed rows make it.
   */
  typeName?: string;
  /** Header text of method columns, from their arguments (docker's `{{.Label "a.b"}}` → `b`). */
  methodHeaders?: Record<string, (...args: unknown[]) => string>;
}

/**
 * Renders `rows` (objects with the fields templates refer to) as docker does for `ps`,
 * `images`, …: a table with a header row when the format starts with `table`, one JSON object
 * per line for `json`, else the template per row. Returns the full text (newline-terminated).
 */
export function renderList(rows: readonly unknown[], spec: ListFormat): string {
  let format = spec.format.trim() === "" || spec.format === "table"
    ? spec.defaultTable
    : spec.format;
  if (format === "json") format = "{{json .}}";
  format = unescapeFormat(format);
  const options = spec.typeName ? { missingKey: "error" as const, typeName: spec.typeName } : {};
  if (format.startsWith("table")) {
    const body = format.slice("table".length).replace(/^\s/, "");
    const tmpl = new GoTemplate(body, options);
    // The header row is the same template run over an object whose every field is its header
    // text, which is how docker derives it.
    const label = (key: string | symbol): string =>
      typeof key === "string" ? spec.headers[key] ?? key.toUpperCase() : "";
    // Methods (`{{.Label "x"}}`) take arguments: their header is a method too.
    const headerOf = (key: string | symbol): unknown =>
      typeof key === "string" && spec.methodHeaders?.[key] ? spec.methodHeaders[key] : label(key);
    const header = tmpl.execute(
      new Proxy({}, {
        get: (_t, key) => headerOf(key),
        has: () => true,
        getOwnPropertyDescriptor: (_t, key) => ({
          value: headerOf(key),
          configurable: true,
          enumerable: true,
        }),
      }),
    );
    const lines = [header, ...rows.map((r) => tmpl.execute(r))];
    const flat = lines.join("\n").split("\n");
    return alignTabs(flat).join("\n") + "\n";
  }
  const tmpl = new GoTemplate(format, options);
  return rows.map((r) => tmpl.execute(r) + "\n").join("");
}
