/**
 * `docker-ts inspect` (containers, then images) and `image inspect`: a JSON array with docker's
 * four-space indentation, or `--format` per object.
 *
 * @module
 */
import type { Command } from "../command.ts";
import { PROG, str } from "../command.ts";
import { GoTemplate } from "../go_template.ts";
import { unescapeFormat } from "../table.ts";
import { isNotFound } from "../image_ops.ts";
import { CliError } from "../cli_error.ts";
import { NotFoundError } from "../../errors.ts";
import type { EngineApi } from "../../engine_api.ts";

type Kind = "" | "container" | "image";

async function lookup(engine: EngineApi, name: string, kind: Kind): Promise<unknown> {
  if (kind !== "image") {
    try {
      return await engine.inspect(name);
    } catch (err) {
      if (!isNotFound(err) || kind === "container") throw err;
    }
  }
  try {
    return await engine.inspectImage(name);
  } catch (err) {
    if (isNotFound(err) && kind === "") throw new NotFoundError(`No such object: ${name}`);
    throw err;
  }
}

/** Shared by `inspect` and `image inspect` (which fixes the kind). */
export function inspectCommand(fixedKind: Kind): Command {
  return {
    name: "inspect",
    usage: fixedKind === "image" ? "[OPTIONS] IMAGE [IMAGE...]" : "[OPTIONS] NAME|ID [NAME|ID...]",
    description: fixedKind === "image"
      ? "Display detailed information on one or more images"
      : "Return low-level information on Docker objects",
    flags: [
      {
        name: "format",
        short: "f",
        kind: "string",
        description:
          "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template",
      },
      ...(fixedKind === ""
        ? [{
          name: "type",
          kind: "string" as const,
          description: "Only inspect objects of the given type",
        }]
        : []),
      {
        name: "size",
        short: "s",
        kind: "bool",
        description: "Display total file sizes if the type is container",
      },
    ],
    args: { min: 1 },
    async action(ctx, parsed): Promise<number> {
      const kind = (fixedKind || str(parsed, "type")) as Kind;
      if (!["", "container", "image"].includes(kind)) {
        throw new CliError(`"${kind}" is not a valid value for --type`);
      }
      const format = str(parsed, "format");
      const template = format && format !== "json"
        // docker runs a template its typed value cannot take again on the raw JSON, with
        // missingkey=error: a misspelt field fails instead of printing "<no value>".
        ? new GoTemplate(unescapeFormat(format), { missingKey: "error" })
        : undefined;
      const engine = await ctx.engine();
      const found: unknown[] = [];
      const errors: Error[] = [];
      let failed = false;
      for (const name of parsed.positionals) {
        try {
          const obj = await lookup(engine, name, kind);
          found.push(obj);
          if (template) ctx.io.writeOut(template.execute(obj) + "\n");
          else if (format === "json") ctx.io.writeOut(JSON.stringify(obj) + "\n");
        } catch (err) {
          if (!isNotFound(err)) throw err;
          failed = true;
          // docker prints the array first, then "Error: No such object: x" lines.
          errors.push(err as Error);
        }
      }
      if (!format) {
        ctx.io.writeOut(found.length === 0 ? "[]\n" : JSON.stringify(found, null, 4) + "\n");
      }
      for (const err of errors.splice(0)) {
        ctx.io.writeErr(`${PROG}: ${err.message}\n`);
      }
      return failed ? 1 : 0;
    },
  };
}

/** The `inspect` verb. */
export const command: Command = inspectCommand("");
