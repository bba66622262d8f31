/**
 * The `docker-ts` command line: global flags, then a verb. Each verb lives in its own module
 * under `verbs/` and is imported only when it runs, so `run` never loads pull or registry code
 * unless it pulls, and `--help` loads nothing but the verb's flag table.
 *
 * @module
 */
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
    load: () => import("./verbs/run.ts"),
  },
  create: { summary: "Create a new container", load: () => import("./verbs/create.ts") },
  start: {
    summary: "Start one or more stopped containers",
    load: () => import("./verbs/start.ts"),
  },
  ps: { summary: "List containers", load: () => import("./verbs/ps.ts") },
  rm: { summary: "Remove one or more containers", load: () => import("./verbs/rm.ts") },
  wait: {
    summary: "Block until one or more containers stop, then print their exit codes",
    load: () => import("./verbs/wait.ts"),
  },
  inspect: {
    summary: "Return low-level information on Docker objects",
    load: () => import("./verbs/inspect.ts"),
  },
  pull: { summary: "Download an image from a registry", load: () => import("./verbs/pull.ts") },
  push: { summary: "Upload an image to a registry", load: () => import("./verbs/push.ts") },
  images: { summary: "List images", load: () => import("./verbs/images.ts") },
  rmi: { summary: "Remove one or more images", load: () => import("./verbs/rmi.ts") },
  tag: {
    summary: "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
    load: () => import("./verbs/tag.ts"),
  },
  save: {
    summary: "Save one or more images to a tar archive (streamed to STDOUT by default)",
    load: () => import("./verbs/save.ts"),
  },
  load: {
    summary: "Load an image from a tar archive or STDIN",
    load: () => import("./verbs/load.ts"),
  },
  import: {
    summary: "Import the contents from a tarball to create a filesystem image",
    load: () => import("./verbs/import.ts"),
  },
  login: { summary: "Authenticate to a registry", load: () => import("./verbs/login.ts") },
  logout: { summary: "Log out from a registry", load: () => import("./verbs/logout.ts") },
  version: {
    summary: "Show the Docker version information",
    load: () => import("./verbs/version.ts"),
  },
  info: { summary: "Display system-wide information", load: () => import("./verbs/info.ts") },
  stop: { summary: "Stop one or more running containers", load: () => import("./verbs/stop.ts") },
  kill: { summary: "Kill one or more running containers", load: () => import("./verbs/kill.ts") },
  restart: { summary: "Restart one or more containers", load: () => import("./verbs/restart.ts") },
  logs: { summary: "Fetch the logs of a container", load: () => import("./verbs/logs.ts") },
  exec: {
    summary: "Execute a command in a running container",
    load: () => import("./verbs/exec.ts"),
  },
  pause: {
    summary: "Pause all processes within one or more containers",
    load: () => import("./verbs/pause.ts"),
  },
  unpause: {
    summary: "Unpause all processes within one or more containers",
    load: () => import("./verbs/unpause.ts"),
  },
  top: {
    summary: "Display the running processes of a container",
    load: () => import("./verbs/top.ts"),
  },
  stats: {
    summary: "Display a live stream of container(s) resource usage statistics",
    load: () => import("./verbs/stats.ts"),
  },
  rename: { summary: "Rename a container", load: () => import("./verbs/rename.ts") },
  port: {
    summary: "List port mappings or a specific mapping for the container",
    load: () => import("./verbs/port.ts"),
  },
  attach: {
    summary: "Attach local standard input, output, and error streams to a running container",
    load: () => import("./verbs/attach.ts"),
  },
  cp: {
    summary: "Copy files/folders between a container and the local filesystem",
    load: () => import("./verbs/cp.ts"),
  },
  network: { summary: "Manage networks", load: () => import("./verbs/network.ts") },
  daemon: { summary: "Run the docker-ts daemon", load: () => import("./verbs/daemon.ts") },
  "container-prune": {
    summary: "Remove all stopped containers",
    load: () => import("./verbs/container_prune.ts"),
    hidden: true,
  },
  "image-inspect": {
    summary: "Display detailed information on one or more images",
    load: () => import("./verbs/image_inspect.ts"),
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
