/**
 * The `docker-ts` command line: global flags, then a verb. Each verb lives in its own module
 * under `verbs/` and is imported only when it runs, so `run` never loads pull or registry code
 * unless it pulls, and `--help` loads nothing but the verb's flag table.
 *
 * @module
 */
import { lazyImport } from "../util/lazy_import.ts";
import { DEFAULT_ROOT, DEFAULT_RUNROOT } from "../paths.ts";
import { FlagError, type FlagSpec, formatFlagUsages, parseFlags } from "./flags.ts";
import { type Command, PROG, reportError, runCommand } from "./command.ts";
import { type CliContext, type CliIo, createCliEngine, processIo } from "./context.ts";
import type { EngineApi } from "../engine_api.ts";

/** The version `--version` and `version` print. */
export const VERSION = "0.1.0";

type Loader = () => Promise<{ command: Command }>;

interface VerbEntry {
  summary: string;
  load: Loader;
  /** Reachable only through a management command (`image inspect`). */
  hidden?: boolean;
}

const VERBS: Record<string, VerbEntry> = {
  run: {
    summary: "Create and run a new container from an image",
    load: () =>
      lazyImport<typeof import("./verbs/run.ts")>(new URL("./verbs/run.ts", import.meta.url)),
  },
  create: {
    summary: "Create a new container",
    load: () =>
      lazyImport<typeof import("./verbs/create.ts")>(new URL("./verbs/create.ts", import.meta.url)),
  },
  start: {
    summary: "Start one or more stopped containers",
    load: () =>
      lazyImport<typeof import("./verbs/start.ts")>(new URL("./verbs/start.ts", import.meta.url)),
  },
  ps: {
    summary: "List containers",
    load: () =>
      lazyImport<typeof import("./verbs/ps.ts")>(new URL("./verbs/ps.ts", import.meta.url)),
  },
  rm: {
    summary: "Remove one or more containers",
    load: () =>
      lazyImport<typeof import("./verbs/rm.ts")>(new URL("./verbs/rm.ts", import.meta.url)),
  },
  wait: {
    summary: "Block until one or more containers stop, then print their exit codes",
    load: () =>
      lazyImport<typeof import("./verbs/wait.ts")>(new URL("./verbs/wait.ts", import.meta.url)),
  },
  inspect: {
    summary: "Return low-level information on Docker objects",
    load: () =>
      lazyImport<typeof import("./verbs/inspect.ts")>(
        new URL("./verbs/inspect.ts", import.meta.url),
      ),
  },
  pull: {
    summary: "Download an image from a registry",
    load: () =>
      lazyImport<typeof import("./verbs/pull.ts")>(new URL("./verbs/pull.ts", import.meta.url)),
  },
  push: {
    summary: "Upload an image to a registry",
    load: () =>
      lazyImport<typeof import("./verbs/push.ts")>(new URL("./verbs/push.ts", import.meta.url)),
  },
  images: {
    summary: "List images",
    load: () =>
      lazyImport<typeof import("./verbs/images.ts")>(new URL("./verbs/images.ts", import.meta.url)),
  },
  rmi: {
    summary: "Remove one or more images",
    load: () =>
      lazyImport<typeof import("./verbs/rmi.ts")>(new URL("./verbs/rmi.ts", import.meta.url)),
  },
  tag: {
    summary: "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
    load: () =>
      lazyImport<typeof import("./verbs/tag.ts")>(new URL("./verbs/tag.ts", import.meta.url)),
  },
  save: {
    summary: "Save one or more images to a tar archive (streamed to STDOUT by default)",
    load: () =>
      lazyImport<typeof import("./verbs/save.ts")>(new URL("./verbs/save.ts", import.meta.url)),
  },
  load: {
    summary: "Load an image from a tar archive or STDIN",
    load: () =>
      lazyImport<typeof import("./verbs/load.ts")>(new URL("./verbs/load.ts", import.meta.url)),
  },
  import: {
    summary: "Import the contents from a tarball to create a filesystem image",
    load: () =>
      lazyImport<typeof import("./verbs/import.ts")>(new URL("./verbs/import.ts", import.meta.url)),
  },
  login: {
    summary: "Authenticate to a registry",
    load: () =>
      lazyImport<typeof import("./verbs/login.ts")>(new URL("./verbs/login.ts", import.meta.url)),
  },
  logout: {
    summary: "Log out from a registry",
    load: () =>
      lazyImport<typeof import("./verbs/logout.ts")>(new URL("./verbs/logout.ts", import.meta.url)),
  },
  version: {
    summary: "Show the Docker version information",
    load: () =>
      lazyImport<typeof import("./verbs/version.ts")>(
        new URL("./verbs/version.ts", import.meta.url),
      ),
  },
  info: {
    summary: "Display system-wide information",
    load: () =>
      lazyImport<typeof import("./verbs/info.ts")>(new URL("./verbs/info.ts", import.meta.url)),
  },
  stop: {
    summary: "Stop one or more running containers",
    load: () =>
      lazyImport<typeof import("./verbs/stop.ts")>(new URL("./verbs/stop.ts", import.meta.url)),
  },
  kill: {
    summary: "Kill one or more running containers",
    load: () =>
      lazyImport<typeof import("./verbs/kill.ts")>(new URL("./verbs/kill.ts", import.meta.url)),
  },
  restart: {
    summary: "Restart one or more containers",
    load: () =>
      lazyImport<typeof import("./verbs/restart.ts")>(
        new URL("./verbs/restart.ts", import.meta.url),
      ),
  },
  logs: {
    summary: "Fetch the logs of a container",
    load: () =>
      lazyImport<typeof import("./verbs/logs.ts")>(new URL("./verbs/logs.ts", import.meta.url)),
  },
  exec: {
    summary: "Execute a command in a running container",
    load: () =>
      lazyImport<typeof import("./verbs/exec.ts")>(new URL("./verbs/exec.ts", import.meta.url)),
  },
  pause: {
    summary: "Pause all processes within one or more containers",
    load: () =>
      lazyImport<typeof import("./verbs/pause.ts")>(new URL("./verbs/pause.ts", import.meta.url)),
  },
  unpause: {
    summary: "Unpause all processes within one or more containers",
    load: () =>
      lazyImport<typeof import("./verbs/unpause.ts")>(
        new URL("./verbs/unpause.ts", import.meta.url),
      ),
  },
  top: {
    summary: "Display the running processes of a container",
    load: () =>
      lazyImport<typeof import("./verbs/top.ts")>(new URL("./verbs/top.ts", import.meta.url)),
  },
  stats: {
    summary: "Display a live stream of container(s) resource usage statistics",
    load: () =>
      lazyImport<typeof import("./verbs/stats.ts")>(new URL("./verbs/stats.ts", import.meta.url)),
  },
  rename: {
    summary: "Rename a container",
    load: () =>
      lazyImport<typeof import("./verbs/rename.ts")>(new URL("./verbs/rename.ts", import.meta.url)),
  },
  port: {
    summary: "List port mappings or a specific mapping for the container",
    load: () =>
      lazyImport<typeof import("./verbs/port.ts")>(new URL("./verbs/port.ts", import.meta.url)),
  },
  attach: {
    summary: "Attach local standard input, output, and error streams to a running container",
    load: () =>
      lazyImport<typeof import("./verbs/attach.ts")>(new URL("./verbs/attach.ts", import.meta.url)),
  },
  cp: {
    summary: "Copy files/folders between a container and the local filesystem",
    load: () =>
      lazyImport<typeof import("./verbs/cp.ts")>(new URL("./verbs/cp.ts", import.meta.url)),
  },
  network: {
    summary: "Manage networks",
    load: () =>
      lazyImport<typeof import("./verbs/network.ts")>(
        new URL("./verbs/network.ts", import.meta.url),
      ),
  },
  daemon: {
    summary: "Run the docker-ts daemon",
    load: () =>
      lazyImport<typeof import("./verbs/daemon.ts")>(new URL("./verbs/daemon.ts", import.meta.url)),
  },
  "container-prune": {
    summary: "Remove all stopped containers",
    load: () =>
      lazyImport<typeof import("./verbs/container_prune.ts")>(
        new URL("./verbs/container_prune.ts", import.meta.url),
      ),
    hidden: true,
  },
  "image-inspect": {
    summary: "Display detailed information on one or more images",
    load: () =>
      lazyImport<typeof import("./verbs/image_inspect.ts")>(
        new URL("./verbs/image_inspect.ts", import.meta.url),
      ),
    hidden: true,
  },
};

/** `docker-ts image ls` etc.: management command → sub-verb → top-level verb. */
const GROUPS: Record<string, { summary: string; verbs: Record<string, string> }> = {
  image: {
    summary: "Manage images",
    verbs: {
      import: "import",
      inspect: "image-inspect",
      load: "load",
      ls: "images",
      list: "images",
      pull: "pull",
      push: "push",
      rm: "rmi",
      remove: "rmi",
      save: "save",
      tag: "tag",
    },
  },
  container: {
    summary: "Manage containers",
    verbs: {
      create: "create",
      inspect: "inspect",
      ls: "ps",
      list: "ps",
      ps: "ps",
      rm: "rm",
      remove: "rm",
      run: "run",
      start: "start",
      wait: "wait",
      stop: "stop",
      kill: "kill",
      restart: "restart",
      logs: "logs",
      exec: "exec",
      pause: "pause",
      unpause: "unpause",
      top: "top",
      stats: "stats",
      rename: "rename",
      port: "port",
      attach: "attach",
      cp: "cp",
      prune: "container-prune",
    },
  },
};

const GLOBAL_FLAGS: FlagSpec[] = [
  {
    name: "root",
    kind: "string",
    description: "Root of persistent state (env DOCKER_TS_ROOT)",
    default: DEFAULT_ROOT,
  },
  {
    name: "runroot",
    kind: "string",
    description: "Root of runtime state",
    default: DEFAULT_RUNROOT,
  },
  { name: "debug", short: "D", kind: "bool", description: "Enable debug mode" },
  {
    name: "host",
    short: "H",
    kind: "string",
    description: "Daemon socket to connect to (env DOCKER_TS_HOST)",
  },
  { name: "version", short: "v", kind: "bool", description: "Print version information and quit" },
  { name: "help", short: "h", kind: "bool", description: "Print usage", hidden: true },
];

function globalHelp(): string {
  const width = Math.max(...Object.keys(VERBS).map((v) => v.length), 9) + 2;
  const line = (name: string, summary: string): string => `  ${name.padEnd(width)}${summary}`;
  return [
    `Usage:  ${PROG} [OPTIONS] COMMAND`,
    "",
    "A Docker-compatible container engine in TypeScript",
    "",
    "Management Commands:",
    ...Object.entries(GROUPS).map(([name, g]) => line(name, g.summary)),
    "",
    "Commands:",
    ...Object.entries(VERBS).filter(([, v]) => !v.hidden).map(([name, v]) => line(name, v.summary)),
    "",
    "Global Options:",
    formatFlagUsages(GLOBAL_FLAGS),
    "",
    `Run '${PROG} COMMAND --help' for more information on a command.`,
    "",
  ].join("\n");
}

function groupHelp(group: string): string {
  const g = GROUPS[group];
  const names = Object.keys(g.verbs).filter((sub) => !["list", "remove", "ps"].includes(sub));
  const width = Math.max(...names.map((n) => n.length), 9) + 2;
  return [
    `Usage:  ${PROG} ${group} COMMAND`,
    "",
    g.summary,
    "",
    "Commands:",
    ...names.map((n) => `  ${n.padEnd(width)}${VERBS[g.verbs[n]].summary}`),
    "",
    `Run '${PROG} ${group} COMMAND --help' for more information on a command.`,
    "",
  ].join("\n");
}

/** Verbs that always talk to the engine: it is created while the verb's module loads. */
const PREFETCH_ENGINE = new Set([
  "run",
  "container run",
  "create",
  "container create",
  "start",
  "container start",
  "exec",
  "container exec",
]);

/** Seams for tests: a fake engine, captured stdio, a fixed environment. */
export interface MainOptions {
  /** Use this engine instead of creating the in-process one. */
  engine?: EngineApi;
  /** Replace the process's stdio. */
  io?: CliIo;
  /** Replace environment lookups. */
  env?: (name: string) => string | undefined;
}

/**
 * Runs the CLI with `args` (without the program name) and resolves to the exit code.
 *
 * @example
 * ```ts
 * const code = await main(["--version"]); // prints "docker-ts version 0.1.0"
 * ```
 */
export async function main(args: string[], options: MainOptions = {}): Promise<number> {
  const io = options.io ?? processIo();
  const env = options.env ?? ((name: string) => Deno.env.get(name));
  let global;
  try {
    global = parseFlags(args, GLOBAL_FLAGS, { interspersed: false });
  } catch (err) {
    if (!(err instanceof FlagError)) throw err;
    io.writeErr(
      `${err.message}\n\nUsage:  ${PROG} [OPTIONS] COMMAND\n\nRun '${PROG} --help' for more information\n`,
    );
    return 125;
  }
  if (global.values.version === true) {
    io.writeOut(`${PROG} version ${VERSION}\n`);
    return 0;
  }
  const [verb, ...rest] = global.positionals;
  if (global.values.help === true || verb === undefined || verb === "help") {
    if (verb === "help" && rest.length > 0) return main([...rest.slice(0, 1), "--help"], options);
    io.writeOut(globalHelp());
    return 0;
  }

  const root = global.changed.has("root")
    ? String(global.values.root)
    : env("DOCKER_TS_ROOT") || DEFAULT_ROOT;
  const runroot = String(global.values.runroot);
  let engine: Promise<EngineApi> | undefined;
  let entry = VERBS[verb]?.hidden ? undefined : VERBS[verb];
  let displayName = verb;
  let verbArgs = rest;
  const host = global.values.host ? String(global.values.host) : undefined;
  const ctx: CliContext = {
    root,
    runroot,
    debug: global.values.debug === true,
    host,
    io,
    env,
    engine: () => {
      engine ??= options.engine
        ? Promise.resolve(options.engine)
        : createCliEngine({ root, runroot, host, env, verb: displayName, args: verbArgs });
      return engine;
    },
  };

  if (!entry && verb in GROUPS) {
    const [sub, ...subArgs] = rest;
    if (sub === undefined || sub === "--help" || sub === "-h") {
      io.writeOut(groupHelp(verb));
      return 0;
    }
    const target = GROUPS[verb].verbs[sub];
    if (!target) {
      io.writeErr(
        `${PROG}: unknown command: ${PROG} ${verb} ${sub}\n\nUsage:  ${PROG} ${verb}\n\nRun '${PROG} ${verb} --help' for more information\n`,
      );
      return 1;
    }
    entry = VERBS[target];
    displayName = `${verb} ${sub}`;
    verbArgs = subArgs;
  }
  if (!entry) {
    io.writeErr(
      `${PROG}: unknown command: ${PROG} ${verb}\n\nRun '${PROG} --help' for more information\n`,
    );
    return 1;
  }
  // The verb's module and the engine (the API client, usually) load in parallel: each dynamic
  // import costs a few ms of module-graph work, and `run` needs both.
  if (PREFETCH_ENGINE.has(displayName) && !verbArgs.some((a) => a === "--help" || a === "-h")) {
    void ctx.engine().catch(() => {}); // the verb sees the same promise, and its error
  }
  try {
    const { command } = await entry.load();
    return await runCommand({ ...command, name: displayName }, ctx, verbArgs);
  } catch (err) {
    reportError(ctx, err);
    return 1;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
