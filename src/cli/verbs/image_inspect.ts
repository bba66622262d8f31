/**
 * `docker-ts image inspect`.
 *
 * @module
 */
import type { Command } from "../command.ts";
import { inspectCommand } from "./inspect.ts";

/** The `image inspect` verb. */
export const command: Command = inspectCommand("image");
