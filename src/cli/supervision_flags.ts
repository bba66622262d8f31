/**
 * `--restart` and `--log-opt` for `run`/`create`: supervision options the engine keeps beside
 * the run options (see `SupervisionOptionsInput`).
 *
 * @module
 */
import type { FlagSpec, ParsedArgs } from "./flags.ts";
import type { RunOptionsInput, SupervisionOptionsInput } from "../engine_api.ts";

/** The flags. */
export const SUPERVISION_FLAGS: FlagSpec[] = [
  {
    name: "restart",
    kind: "string",
    description: "Restart policy to apply when a container exits",
    default: "no",
  },
  { name: "log-opt", kind: "list", description: "Log driver options" },
  {
    name: "log-driver",
    kind: "string",
    description: "Logging driver for the container",
    hidden: true,
  },
];

/** Adds the supervision options to the run options when given. */
export function withSupervision(
  opts: RunOptionsInput,
  parsed: ParsedArgs,
): RunOptionsInput & SupervisionOptionsInput {
  const out: RunOptionsInput & SupervisionOptionsInput = { ...opts };
  if (parsed.changed.has("restart")) out.restart = String(parsed.values.restart);
  const logOpts = parsed.values["log-opt"] as string[] | undefined;
  if (logOpts?.length) out.logOpts = logOpts;
  return out;
}
