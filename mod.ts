/**
 * docker-ts: a Docker-compatible container engine for Deno.
 *
 * Embed an {@link Engine} in-process, or (later) drive a daemon through the same
 * {@link EngineApi}. Run as the main module, this file is the `docker-ts` command line (`cli.ts`
 * is the same command line without the library's import cost).
 *
 * @example
 * ```ts ignore
 * import { Engine } from "@docker-ts/docker-ts";
 *
 * const engine = new Engine({ root: "/var/lib/docker-ts", runroot: "/run/docker-ts" });
 * const code = await engine.run({ image: "busybox", cmd: ["echo", "hello"], rm: true }, {
 *   stdout: Deno.stdout.writable,
 *   stderr: Deno.stderr.writable,
 * });
 * Deno.exit(code);
 * ```
 *
 * @module
 */
export { Engine, type EngineOptions } from "./src/engine.ts";
export type {
  ConsoleSize,
  ContainerInspect,
  ContainerStatus,
  ContainerSummary,
  CreateResult,
  EngineApi,
  ImageInspect,
  ImageRemoveReport,
  ImageSummary,
  InspectMount,
  InspectState,
  LoginOptions,
  PullOptions,
  PullProgress,
  RemoveOptions,
  RunIo,
  StartOptions,
  StdioStreams,
  TimingCallback,
  WaitOptions,
} from "./src/engine_api.ts";
export { ContainerExecError } from "./src/engine_api.ts";
export {
  parseRunOptions,
  type RunOptions,
  type RunOptionsInput,
  RunOptionsSchema,
} from "./src/spec/run_options.ts";
export {
  ConflictError,
  DockerTsError,
  type ErrorKind,
  InternalError,
  InvalidArgumentError,
  InvalidStateError,
  NotFoundError,
  NotImplementedError,
  UnauthorizedError,
  UnavailableError,
} from "./src/errors.ts";

if (import.meta.main) {
  // The CLI loads only when run as a program, so library users never pay for it. Programs should
  // run `cli.ts`, which skips the Engine import above (see its module doc).
  const { main } = await import("./src/cli/main.ts");
  (await import("./src/runtime/inspector_guard.ts")).guardInspectorSignal();
  Deno.exit(await main(Deno.args));
}
