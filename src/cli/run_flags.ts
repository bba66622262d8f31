/**
 * The flags `run` and `create` share, and their translation into the engine's
 * `RunOptionsInput`. Values stay strings where the engine parses docker's syntaxes (`512m`,
 * `1.5`, `nofile=1024:2048`, `--mount` CSV) so validation lives in one place.
 *
 * @module
 */
import type { FlagSpec, ParsedArgs } from "./flags.ts";
import type { RunOptionsInput } from "../engine_api.ts";
import { bool, given, list, str } from "./command.ts";
import { resolveEnv } from "./env_file.ts";
import { CliError } from "./cli_error.ts";

/** Flags of `docker create` (and, with {@link RUN_ONLY_FLAGS}, `docker run`). */
export const CREATE_FLAGS: FlagSpec[] = [
  { name: "add-host", kind: "list", description: "Add a custom host-to-IP mapping (host:ip)" },
  { name: "cap-add", kind: "list", description: "Add Linux capabilities" },
  { name: "cap-drop", kind: "list", description: "Drop Linux capabilities" },
  {
    name: "cpu-shares",
    short: "c",
    kind: "int",
    description: "CPU shares (relative weight)",
  },
  { name: "cpus", kind: "string", valueName: "decimal", description: "Number of CPUs" },
  {
    name: "cpuset-cpus",
    kind: "string",
    description: "CPUs in which to allow execution (0-3, 0,1)",
  },
  { name: "dns", kind: "list", description: "Set custom DNS servers" },
  { name: "dns-option", kind: "list", description: "Set DNS options" },
  { name: "dns-search", kind: "list", description: "Set custom DNS search domains" },
  {
    name: "entrypoint",
    kind: "string",
    description: "Overwrite the default ENTRYPOINT of the image",
  },
  { name: "env", short: "e", kind: "list", description: "Set environment variables" },
  { name: "env-file", kind: "list", description: "Read in a file of environment variables" },
  { name: "hostname", short: "h", kind: "string", description: "Container host name" },
  {
    name: "interactive",
    short: "i",
    kind: "bool",
    description: "Keep STDIN open even if not attached",
  },
  { name: "label", short: "l", kind: "list", description: "Set meta data on a container" },
  {
    name: "memory",
    short: "m",
    kind: "string",
    valueName: "bytes",
    description: "Memory limit",
  },
  {
    name: "memory-swap",
    kind: "string",
    valueName: "bytes",
    description: "Swap limit equal to memory plus swap: '-1' to enable unlimited swap",
  },
  {
    name: "mount",
    kind: "list",
    valueName: "mount",
    description: "Attach a filesystem mount to the container",
  },
  { name: "name", kind: "string", description: "Assign a name to the container" },
  {
    name: "network",
    aliases: ["net"],
    kind: "string",
    valueName: "network",
    description: "Connect a container to a network",
  },
  {
    name: "publish",
    short: "p",
    kind: "list",
    valueName: "list",
    description: "Publish a container's port(s) to the host",
  },
  {
    name: "publish-all",
    short: "P",
    kind: "bool",
    description: "Publish all exposed ports to random ports",
  },
  {
    name: "expose",
    kind: "list",
    valueName: "list",
    description: "Expose a port or a range of ports",
  },
  {
    name: "ip",
    kind: "string",
    valueName: "string",
    description: "IPv4 address (e.g., 172.30.100.104)",
  },
  {
    name: "network-alias",
    aliases: ["net-alias"],
    kind: "list",
    valueName: "list",
    description: "Add network-scoped alias for the container",
  },
  {
    name: "pids-limit",
    kind: "int",
    description: "Tune container pids limit (set -1 for unlimited)",
  },
  {
    name: "platform",
    kind: "string",
    description: "Set platform if server is multi-platform capable",
  },
  { name: "privileged", kind: "bool", description: "Give extended privileges to this container" },
  {
    name: "pull",
    kind: "string",
    description: 'Pull image before running ("always", "missing", "never")',
    default: "missing",
  },
  {
    name: "quiet",
    short: "q",
    kind: "bool",
    description: "Suppress the pull output",
  },
  {
    name: "read-only",
    kind: "bool",
    description: "Mount the container's root filesystem as read only",
  },
  {
    name: "rm",
    kind: "bool",
    description:
      "Automatically remove the container and its associated anonymous volumes when it exits",
  },
  { name: "security-opt", kind: "list", description: "Security Options" },
  {
    name: "shm-size",
    kind: "string",
    valueName: "bytes",
    description: "Size of /dev/shm",
  },
  { name: "stop-signal", kind: "string", description: "Signal to stop the container" },
  {
    name: "stop-timeout",
    kind: "int",
    description: "Timeout (in seconds) to stop a container",
  },
  { name: "group-add", kind: "list", description: "Add additional groups to join" },
  { name: "tmpfs", kind: "list", description: "Mount a tmpfs directory" },
  { name: "tty", short: "t", kind: "bool", description: "Allocate a pseudo-TTY" },
  { name: "ulimit", kind: "list", valueName: "ulimit", description: "Ulimit options" },
  {
    name: "user",
    short: "u",
    kind: "string",
    description: "Username or UID (format: <name|uid>[:<group|gid>])",
  },
  { name: "volume", short: "v", kind: "list", description: "Bind mount a volume" },
  {
    name: "workdir",
    short: "w",
    kind: "string",
    description: "Working directory inside the container",
  },
];

/** Flags only `docker run` has. */
export const RUN_ONLY_FLAGS: FlagSpec[] = [
  {
    name: "detach",
    short: "d",
    kind: "bool",
    description: "Run container in background and print container ID",
  },
  {
    name: "sig-proxy",
    kind: "bool",
    description: "Proxy received signals to the process",
    default: true,
  },
];

const PULL_POLICIES = ["always", "missing", "never"] as const;

/** Translates parsed `run`/`create` flags and positionals into engine options. */
export function toRunOptions(
  parsed: ParsedArgs,
  lookupEnv: (name: string) => string | undefined,
): RunOptionsInput {
  const [image, ...cmd] = parsed.positionals;
  const pull = str(parsed, "pull");
  if (!(PULL_POLICIES as readonly string[]).includes(pull)) {
    throw new CliError(
      `invalid pull option: '${pull}': must be one of "always", "missing" or "never"`,
      125,
    );
  }
  const opts: RunOptionsInput = {
    image,
    env: resolveEnv(list(parsed, "env-file"), list(parsed, "env"), lookupEnv),
    labels: list(parsed, "label"),
    addHosts: list(parsed, "add-host"),
    dns: list(parsed, "dns"),
    dnsSearch: list(parsed, "dns-search"),
    dnsOptions: list(parsed, "dns-option"),
    volumes: list(parsed, "volume"),
    mounts: list(parsed, "mount"),
    tmpfs: list(parsed, "tmpfs"),
    readOnly: bool(parsed, "read-only"),
    capAdd: list(parsed, "cap-add"),
    groupAdd: list(parsed, "group-add"),
    capDrop: list(parsed, "cap-drop"),
    privileged: bool(parsed, "privileged"),
    securityOpt: list(parsed, "security-opt"),
    ulimits: list(parsed, "ulimit"),
    tty: bool(parsed, "tty"),
    interactive: bool(parsed, "interactive"),
    // docker: stdin attached (`-i` without `-d`) means its end closes the container's stdin.
    stdinOnce: bool(parsed, "interactive") && !bool(parsed, "detach"),
    rm: bool(parsed, "rm"),
    detach: bool(parsed, "detach"),
    pull: pull as (typeof PULL_POLICIES)[number],
  };
  const publish = list(parsed, "publish");
  if (publish.length > 0) opts.publish = publish;
  if (bool(parsed, "publish-all")) opts.publishAll = true;
  const expose = list(parsed, "expose");
  if (expose.length > 0) opts.expose = expose;
  const aliases = list(parsed, "network-alias");
  if (aliases.length > 0) opts.networkAliases = aliases;
  // Docker distinguishes "no command" (image default) from any given command.
  if (cmd.length > 0) opts.cmd = cmd;
  const entrypoint = given<string>(parsed, "entrypoint");
  if (entrypoint !== undefined) opts.entrypoint = entrypoint;
  const strings: Array<[string, keyof RunOptionsInput]> = [
    ["workdir", "workdir"],
    ["user", "user"],
    ["hostname", "hostname"],
    ["name", "name"],
    ["stop-signal", "stopSignal"],
    ["network", "network"],
    ["ip", "ip"],
    ["memory", "memory"],
    ["memory-swap", "memorySwap"],
    ["cpus", "cpus"],
    ["cpuset-cpus", "cpusetCpus"],
    ["shm-size", "shmSize"],
    ["platform", "platform"],
  ];
  const record = opts as Record<string, unknown>;
  for (const [flag, key] of strings) {
    const v = given<string>(parsed, flag);
    if (v !== undefined) record[key] = v;
  }
  const ints: Array<[string, keyof RunOptionsInput]> = [
    ["stop-timeout", "stopTimeout"],
    ["cpu-shares", "cpuShares"],
    ["pids-limit", "pidsLimit"],
  ];
  for (const [flag, key] of ints) {
    const v = given<number>(parsed, flag);
    if (v !== undefined) record[key] = v;
  }
  return opts;
}
