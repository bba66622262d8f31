/**
 * `exec` into a running container, on a single-use Worker thread (ARCHITECTURE step 5,
 * DENO-FACTS 2–5): `unshare(CLONE_FS)`, join the container's cgroup (v1: this thread's tid), setns
 * into each of its namespaces that differs from ours (mount last), resolve the user and the
 * executable inside the container, drop credentials and capabilities and load seccomp exactly as
 * the container's init does — all on this thread only — then `posix_spawn` the command, which
 * inherits this thread's state. The thread is never handed back: the launcher terminates it.
 *
 * Synchronous calls only (only they are guaranteed to run on this thread).
 *
 * @module
 */
import {
  CLONE_FS,
  CLONE_NEWNS,
  NAMESPACE_FLAGS,
  preloadNamespace,
  setns,
  unshare,
} from "../../ffi/namespace.ts";
import {
  chdir,
  closeFd,
  dupCloexec,
  O_CLOEXEC,
  O_RDONLY,
  O_RDWR,
  openFd,
  preloadProcess,
  umask,
} from "../../ffi/process.ts";
import { fchown } from "../../ffi/fs.ts";
import { type FileAction, posixSpawn, preloadSpawn } from "../../ffi/spawn.ts";
import { resolveGroupAdd, resolveUser } from "../spec/user.ts";
import { applyCredentials, type CredentialSyscalls } from "./credentials.ts";
import { realCredentialSyscalls } from "./init_syscalls.ts";
import { execFailure, lookupExecutable } from "./exec_lookup.ts";
import type { OciProcess } from "./oci_spec.ts";
import { loadSeccompFromSpec } from "./seccomp_load.ts";

/** Marker message that preloads the symbol sets (a warm Worker). */
export const EXEC_WARM = "warm";

/** What the engine asks the exec Worker to do. */
export interface ExecWorkerRequest {
  /** Host pid of the container's first process (its namespaces are joined). */
  pid: number;
  /** The container's process settings (capabilities, no_new_privs, user, env, cwd). */
  process: OciProcess;
  /** The exec's command, extra env, user and workdir (absent: the container's). */
  args: string[];
  env: string[];
  user?: string;
  /** The container's `--group-add` entries: Docker adds them to every exec's groups. */
  groupAdd?: string[];
  cwd?: string;
  /** Full capabilities, as `exec --privileged`. */
  privileged: boolean;
  /** The container's `linux.seccomp` (undefined: unconfined). */
  seccomp?: unknown;
  /** v1 cgroup directories to join before the spawn (this thread's tid → `tasks`). */
  cgroupDirs: string[];
  /** fds in this process that become the child's 0, 1, 2. */
  fds: [number, number, number];
  /**
   * The pty slave's path inside the container (`/dev/pts/N` of its own devpts; `fds` are then
   * that slave). The child starts a new session and opens it as fd 0, which makes it the
   * controlling terminal; 1 and 2 are copies.
   */
  ttySlave?: string;
}

/** The Worker's answer. */
export type ExecWorkerReply =
  | { ok: true; pid: number }
  | { ok: false; exitCode: number; message: string };

const NS_ORDER = ["cgroup", "ipc", "uts", "network", "pid", "mount"] as const;
const NS_FILE: Record<(typeof NS_ORDER)[number], string> = {
  cgroup: "cgroup",
  ipc: "ipc",
  uts: "uts",
  network: "net",
  pid: "pid",
  mount: "mnt",
};
const HIGH_FD = 100;
const ALL_CAPS = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_DAC_READ_SEARCH",
  "CAP_FOWNER",
  "CAP_FSETID",
  "CAP_KILL",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETPCAP",
  "CAP_LINUX_IMMUTABLE",
  "CAP_NET_BIND_SERVICE",
  "CAP_NET_BROADCAST",
  "CAP_NET_ADMIN",
  "CAP_NET_RAW",
  "CAP_IPC_LOCK",
  "CAP_IPC_OWNER",
  "CAP_SYS_MODULE",
  "CAP_SYS_RAWIO",
  "CAP_SYS_CHROOT",
  "CAP_SYS_PTRACE",
  "CAP_SYS_PACCT",
  "CAP_SYS_ADMIN",
  "CAP_SYS_BOOT",
  "CAP_SYS_NICE",
  "CAP_SYS_RESOURCE",
  "CAP_SYS_TIME",
  "CAP_SYS_TTY_CONFIG",
  "CAP_MKNOD",
  "CAP_LEASE",
  "CAP_AUDIT_WRITE",
  "CAP_AUDIT_CONTROL",
  "CAP_SETFCAP",
  "CAP_MAC_OVERRIDE",
  "CAP_MAC_ADMIN",
  "CAP_SYSLOG",
  "CAP_WAKE_ALARM",
  "CAP_BLOCK_SUSPEND",
  "CAP_AUDIT_READ",
  "CAP_PERFMON",
  "CAP_BPF",
  "CAP_CHECKPOINT_RESTORE",
];

/** Per-thread credential calls (raw syscalls; rlimits are per process: the engine sets them). */
// The init's per-thread credential calls, except rlimits: prlimit(0, …) would change the whole
// engine, so they are applied to the child by pid instead.
const threadCredentials: CredentialSyscalls = {
  ...realCredentialSyscalls,
  setRlimit() {},
};

function readOr(path: string): string | null {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return null;
  }
}

function lastCap(): number {
  return Number(readOr("/proc/sys/kernel/cap_last_cap")?.trim() ?? "40");
}

function ownBoundingSet(): bigint {
  const m = /^CapBnd:\s*([0-9a-f]+)$/m.exec(readOr("/proc/thread-self/status") ?? "");
  return m ? BigInt(`0x${m[1]}`) : (1n << 64n) - 1n;
}

function envName(e: string): string {
  const eq = e.indexOf("=");
  return eq < 0 ? e : e.slice(0, eq);
}

/** Merges env lists: later entries replace earlier ones with the same name. */
export function mergeEnv(base: readonly string[], extra: readonly string[]): string[] {
  const out = new Map<string, string>();
  for (const e of [...base, ...extra]) out.set(envName(e), e);
  return [...out.values()];
}

class Failure extends Error {
  constructor(readonly exitCode: number, message: string) {
    super(message);
  }
}

function execIn(req: ExecWorkerRequest): ExecWorkerReply {
  const opened: number[] = [];
  try {
    // Read in the engine's view: after the mount setns /proc is the container's.
    const available = ownBoundingSet();
    const capLast = lastCap();
    unshare(CLONE_FS);
    // Cgroup first: its files are host paths, gone from view after the mount setns.
    if (req.cgroupDirs.length) {
      const tid = Deno.readLinkSync("/proc/thread-self").split("/").pop()!;
      for (const dir of req.cgroupDirs) Deno.writeTextFileSync(`${dir}/tasks`, tid);
    }
    const joins: { fd: number; type: number; path: string }[] = [];
    for (const ns of NS_ORDER) {
      const theirs = `/proc/${req.pid}/ns/${NS_FILE[ns]}`;
      let same = false;
      try {
        same =
          Deno.readLinkSync(theirs) === Deno.readLinkSync(`/proc/thread-self/ns/${NS_FILE[ns]}`);
      } catch (err) {
        throw new Failure(126, `Cannot read namespace "${theirs}": ${(err as Error).message}`);
      }
      if (same) continue;
      const fd = openFd(theirs, O_RDONLY | O_CLOEXEC);
      opened.push(fd);
      joins.push({ fd, type: NAMESPACE_FLAGS[ns], path: theirs });
    }
    // Paths were opened in the original view; the mount namespace goes last.
    joins.sort((a, b) => (a.type === CLONE_NEWNS ? 1 : 0) - (b.type === CLONE_NEWNS ? 1 : 0));
    for (const j of joins) setns(j.fd, j.type, j.path);

    // Inside the container's view from here on.
    const groupFile = readOr("/etc/group");
    const user = resolveUser(req.user ?? userSpecOf(req.process), {
      passwd: readOr("/etc/passwd"),
      group: groupFile,
    });
    for (const gid of resolveGroupAdd(req.groupAdd ?? [], groupFile)) {
      if (!user.additionalGids.includes(gid)) user.additionalGids.push(gid);
    }
    let env = mergeEnv(req.process.env, req.env);
    if (!env.some((e) => e.startsWith("HOME="))) env = [...env, `HOME=${user.home}`];
    const cwd = req.cwd || req.process.cwd || "/";
    try {
      chdir(cwd);
    } catch (err) {
      throw new Failure(
        126,
        `OCI runtime exec failed: exec failed: unable to start container process: chdir to cwd ("${cwd}") set in config.json failed: ${
          (err as { code?: string }).code ?? (err as Error).message
        }`,
      );
    }
    const found = lookupExecutable(req.args[0] ?? "", env, { cwd });
    if (!found.ok) throw new Failure(found.exitCode, found.message);

    const proc: OciProcess = {
      ...req.process,
      rlimits: [],
      user: {
        uid: user.uid,
        gid: user.gid,
        additionalGids: user.additionalGids,
        umask: req.process.user.umask,
      },
      capabilities: req.privileged
        ? {
          bounding: ALL_CAPS,
          effective: ALL_CAPS,
          permitted: ALL_CAPS,
          inheritable: [],
          ambient: [],
        }
        : req.process.capabilities,
    };
    if (req.ttySlave !== undefined && user.uid !== 0) {
      // The slave belongs to the engine's uid; a non-root exec user could not open it. Like
      // runc, hand over the owner only (the devpts gid= option picks the group).
      fchown(req.fds[0], user.uid, -1, req.ttySlave);
    }
    const seccomp = req.privileged ? undefined : req.seccomp;
    const early = seccomp !== undefined && !proc.noNewPrivileges;
    if (early) loadSeccompFromSpec(seccomp);
    applyCredentials(proc, threadCredentials, capLast, available);
    umask(proc.user.umask ?? 0o022);
    if (seccomp !== undefined && !early) loadSeccompFromSpec(seccomp);

    const actions: FileAction[] = [];
    if (req.ttySlave !== undefined) {
      // The slave is from the container's devpts, so its path resolves in this (the
      // container's) mount namespace. posix_spawn runs setsid before the file actions: a session
      // leader opening a tty without O_NOCTTY gets it as controlling terminal, with its own
      // process group in the foreground (job control, ^C as SIGINT).
      actions.push({ op: "open", fd: 0, path: req.ttySlave, flags: O_RDWR });
      actions.push({ op: "dup2", fd: 0, newfd: 1 });
      actions.push({ op: "dup2", fd: 0, newfd: 2 });
    } else {
      const high = req.fds.map((fd) => {
        const d = dupCloexec(fd, HIGH_FD);
        opened.push(d);
        return d;
      });
      for (let i = 0; i < high.length; i++) actions.push({ op: "dup2", fd: high[i], newfd: i });
    }
    actions.push({ op: "closefrom", fd: 3 });
    try {
      const pid = posixSpawn({
        path: found.path,
        argv: req.args,
        env,
        fileActions: actions,
        setsid: req.ttySlave !== undefined,
      });
      return { ok: true, pid };
    } catch (err) {
      const code = (err as { code?: string }).code ?? "EIO";
      const f = execFailure(req.args[0], code);
      throw new Failure(f.exitCode, f.message);
    }
  } catch (err) {
    if (err instanceof Failure) return { ok: false, exitCode: err.exitCode, message: err.message };
    return {
      ok: false,
      exitCode: 126,
      message: `Cannot exec in container: ${err instanceof Error ? err.message : String(err)}`,
    };
  } finally {
    for (const fd of opened) {
      try {
        closeFd(fd);
      } catch {
        // already closed
      }
    }
  }
}

function userSpecOf(p: OciProcess): string {
  return `${p.user.uid}:${p.user.gid}`;
}

// deno-lint-ignore no-explicit-any
const scope = self as any;
let used = false;
scope.onmessage = (ev: MessageEvent<ExecWorkerRequest | typeof EXEC_WARM>) => {
  if (ev.data === EXEC_WARM) {
    preloadNamespace();
    preloadProcess();
    preloadSpawn();
    scope.postMessage(EXEC_WARM);
    return;
  }
  // Single use: this thread's namespaces and credentials are the container's now.
  if (used) {
    scope.postMessage({ ok: false, exitCode: 126, message: "The exec Worker was already used" });
    return;
  }
  used = true;
  scope.postMessage(execIn(ev.data));
};
