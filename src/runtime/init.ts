/**
 * The container's PID 1 until it execs the user's command (stage 2 of the launch).
 *
 * Started by the launch Worker inside fresh namespaces with `deno run src/runtime/init.ts`,
 * fds 0–2 = the container's stdio, 3 = status pipe, 4 = go pipe, 5 = config memfd. When the
 * launch Worker has mounted the container's tree (`premounted`, the default on Linux ≥ 6.18) it
 * waits for the go byte and pivots; otherwise it mounts the tree itself first (init_mounts.ts).
 * Then it sets the hostname, reports "ready", waits on the start gate, drops credentials and
 * execs. Every failure becomes one status line plus exit
 * 125 (setup), 126 or 127 (exec). Imports stay tiny: this boot is on every `run`'s path.
 *
 * @module
 */
import { NAMESPACE_FLAGS, preloadNamespace, unshare } from "../../ffi/namespace.ts";
import { errno } from "../../ffi/errno.ts";
import {
  chdir,
  cloexecFrom,
  closeFd,
  execve,
  O_CLOEXEC,
  O_RDWR,
  openFd,
  preloadProcess,
  readFd,
  resetSignals,
  setCloexec,
  sethostname,
  umask,
  waitReadableUnless,
  writeFd,
} from "../../ffi/process.ts";
import type { InitConfig, InitStatus } from "./init_config.ts";
import { CONFIG_FD, GO_FD, KEEP_SRC_FD, KEPT_FD, STATUS_FD, WARM_ARG } from "./init_config.ts";
import { preloadFdPassing, recvFds } from "../../ffi/fd_passing.ts";
import { preloadMount } from "../../ffi/mount.ts";
import { dup3 } from "../../ffi/io.ts";
import { applyCredentialPlan, type CredentialPlan, planCredentials } from "./credentials.ts";
import { boundingSetOf, lastCap, mkdirWorkdir, realCredentialSyscalls } from "./init_syscalls.ts";
import { execFailure, lookupExecutable } from "./exec_lookup.ts";
import {
  attachPreparedSeccomp,
  type PreparedSeccomp,
  prepareSeccompFromSpec,
  prewarmSeccomp,
} from "./seccomp_load.ts";
import { type CgroupHierarchy, hostCgroupHierarchies, pivotInto } from "./init_rootfs.ts";
import { mountContainerFs, rootPathOf } from "./init_mounts.ts";

class InitFailure extends Error {
  constructor(readonly exitCode: number, message: string) {
    super(message);
  }
}

const encoder = new TextEncoder();

function report(status: InitStatus): void {
  try {
    writeFd(STATUS_FD, encoder.encode(JSON.stringify(status) + "\n"));
  } catch {
    // The engine is gone; the exit code still tells the story.
  }
}

function oneLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.replace(/\s*\n\s*/g, " ");
}

let facts: { capLast: number; bounding: bigint } | undefined;
/** The kernel's last capability and this process's bounding set (fixed for its life). */
function hostFacts(): { capLast: number; bounding: bigint } {
  facts ??= { capLast: lastCap(), bounding: boundingSetOf("/proc/self/status") };
  return facts;
}

/**
 * What a warm init does before it is claimed, so a start does not pay for it: the libc symbol
 * sets of every later step (each dlopen'ed symbol costs ~0.1 ms) and the host facts.
 */
function prewarm(): void {
  preloadProcess();
  preloadFdPassing();
  preloadNamespace();
  preloadMount();
  prewarmSeccomp();
  const f = hostFacts();
  // Compiles the planner (pure) so the real plan after the claim runs warm.
  planCredentials(
    {
      user: { uid: 0, gid: 0 },
      args: [],
      env: [],
      cwd: "/",
      capabilities: { bounding: ["CAP_KILL"], effective: [], permitted: [], inheritable: [] },
    },
    f.capLast,
    f.bounding,
  );
  // And the executable lookup, on a name that cannot exist (it only stats).
  lookupExecutable("docker-ts-prewarm", ["PATH=/nonexistent-docker-ts"], { cwd: "/" });
}

let goConsumed = false;
/** Waits for the launcher's go byte (the engine's cgroup join is done), once. */
function awaitGo(newCgroupNs: boolean): void {
  if (goConsumed) return;
  goConsumed = true;
  readFd(GO_FD, new Uint8Array(1));
  closeFd(GO_FD);
  if (newCgroupNs) unshare(NAMESPACE_FLAGS.cgroup);
}

function setup(cfg: InitConfig, timings: Record<string, number>): { path: string } {
  const spec = cfg.spec;
  let root: string;
  if (cfg.premounted) {
    // The launch Worker mounted everything while this process booted; the go byte says both
    // that and the engine's cgroup join are done.
    root = rootPathOf(cfg);
    awaitGo(cfg.newCgroupNs);
  } else {
    let hierarchies: CgroupHierarchy[] | undefined;
    root = mountContainerFs(cfg, {
      cgroups: () => {
        // Fresh cgroup mounts must come from inside the container's cgroup namespace.
        awaitGo(cfg.newCgroupNs);
        hierarchies ??= hostCgroupHierarchies(Deno.readTextFileSync("/proc/self/mountinfo"));
        return hierarchies;
      },
      // With a cgroup namespace fresh mounts show the container's own cgroups; without one,
      // the container's cgroup dirs are bound instead (when the engine passed them).
      cgroupBinds: cfg.newCgroupNs ? undefined : cfg.cgroupPaths,
    });
  }
  timings.mounts = wallNow();

  pivotInto(root);
  timings.pivot = wallNow();

  const hasUts = spec.linux.namespaces.some((n) => n.type === "uts");
  if (hasUts && spec.hostname) sethostname(spec.hostname);

  const proc = spec.process;
  const cwd = proc.cwd || "/";
  if (proc.createCwd) mkdirWorkdir(cwd);
  try {
    chdir(cwd);
  } catch (err) {
    throw new InitFailure(
      125,
      `Cannot change to working directory "${cwd}": ${
        (err as { code?: string }).code ?? oneLine(err)
      }`,
    );
  }
  const found = lookupExecutable(proc.args[0] ?? "", proc.env, { cwd });
  if (!found.ok) throw new InitFailure(found.exitCode, found.message);
  awaitGo(cfg.newCgroupNs);
  timings.setup = wallNow();
  return { path: found.path };
}

/**
 * A warm init waits here to be claimed: the claim brings the config memfd and the container's
 * stdio, which replace the /dev/null it was spawned with. Returns the config fd. End of file
 * means it was discarded (or the engine died): exit quietly.
 */
function claim(): { configFd: number; keepSrc?: number } {
  const m = recvFds(GO_FD, 8, 8);
  if (m.bytes === 0) Deno.exit(0);
  const [config, ...rest] = m.fds;
  const stdio = rest.slice(0, 3);
  if (config === undefined || stdio.length < 3) {
    throw new InitFailure(125, "The warm init's claim carried no config and stdio");
  }
  for (let i = 0; i < 3; i++) dup3(stdio[i], i, 0);
  for (const fd of stdio) closeFd(fd);
  return { configFd: config, keepSrc: rest[3] };
}

/** Moves the engine's stdio end the container keeps to KEPT_FD (close-on-exec until the exec). */
function keepAt(src: number): void {
  dup3(src, KEPT_FD, O_CLOEXEC);
  closeFd(src);
}

/** Wall-clock milliseconds (epoch), comparable with the engine's clock. */
function wallNow(): number {
  return performance.timeOrigin + performance.now();
}

function main(): void {
  const timings: Record<string, number> = { main: wallNow() };
  let cfg: InitConfig;
  let exe: { path: string };
  let gateFd: number;
  try {
    setCloexec(STATUS_FD, true);
    setCloexec(GO_FD, true);
    let configFd = CONFIG_FD;
    let keepSrc: number | undefined;
    if (Deno.args.includes(WARM_ARG)) {
      prewarm();
      ({ configFd, keepSrc } = claim());
      // Boot happened long before: stages count from the claim.
      timings.main = wallNow();
    }
    cfg = JSON.parse(Deno.readTextFileSync(`/proc/self/fd/${configFd}`)) as InitConfig;
    closeFd(configFd);
    if (cfg.keep) keepAt(keepSrc ?? KEEP_SRC_FD);
    // Read-write: opening never blocks, and holding a writer ourselves means read() waits for the
    // start byte instead of seeing EOF. Opened before the pivot hides the run directory.
    gateFd = openFd(cfg.gatePath, O_RDWR | O_CLOEXEC);
    exe = setup(cfg, timings);
  } catch (err) {
    const code = err instanceof InitFailure ? err.exitCode : 125;
    report({ t: "error", stage: "setup", exitCode: code, message: oneLine(err) });
    Deno.exit(code);
  }
  timings.ready = wallNow();
  report({ t: "ready", timings });

  // While the engine records the start and opens the gate: everything of the last steps that
  // gives nothing away yet (decoding the filter, planning the credentials, symbol lookups, the
  // umask, signal dispositions and close-on-exec marks, which matter only at the exec).
  const proc = cfg.spec.process;
  let prepared: { sec?: PreparedSeccomp; creds: CredentialPlan } | undefined;
  let prepareError: unknown;
  try {
    const facts = hostFacts();
    prepared = {
      sec: prepareSeccompFromSpec(cfg.spec.linux.seccomp),
      creds: planCredentials(proc, facts.capLast, facts.bounding),
    };
    umask(proc.user.umask ?? 0o022);
    resetSignals();
    cloexecFrom(3);
    if (cfg.keep) setCloexec(KEPT_FD, false); // the one fd the command inherits on purpose
  } catch (err) {
    prepareError = err;
  }
  const preparedAt = wallNow();

  // Blocks until start() writes the byte (we hold a writer too, so there is no EOF), or until
  // the engine is gone (the status pipe lost its reader): an engine killed between "ready" and
  // the gate must not leave this init waiting in the container's cgroup forever.
  let n = 0;
  try {
    if (waitReadableUnless(gateFd, STATUS_FD)) n = readFd(gateFd, new Uint8Array(1));
  } catch {
    // fall through: not started
  }
  const gateAt = wallNow();
  closeFd(gateFd);
  if (n !== 1) Deno.exit(125);

  try {
    if (!prepared) throw prepareError;
    const sec = prepared.sec;
    // Without no_new_privs the kernel needs CAP_SYS_ADMIN to accept a filter: load it while the
    // init still has it (the default profile allows the credential calls that follow).
    const early = sec !== undefined && !proc.noNewPrivileges;
    if (early) attachPreparedSeccomp(sec);
    applyCredentialPlan(prepared.creds, realCredentialSyscalls);
    if (sec !== undefined && !early) attachPreparedSeccomp(sec);
  } catch (err) {
    report({ t: "error", stage: "setup", exitCode: 125, message: oneLine(err) });
    Deno.exit(125);
  }
  report({ t: "exec", timings: { prepared: preparedAt, gate: gateAt, creds: wallNow() } });
  try {
    execve(exe.path, proc.args, proc.env);
  } catch (err) {
    const code = (err as { code?: string }).code ?? `E${errno()}`;
    const f = execFailure(proc.args[0], code);
    report({ t: "error", stage: "exec", exitCode: f.exitCode, message: f.message });
    Deno.exit(f.exitCode);
  }
}

if (import.meta.main) main();
