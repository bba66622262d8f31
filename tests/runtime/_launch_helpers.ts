/**
 * Harness for launch tests: a busybox rootfs in a temp dir, a Docker-like default spec, and a
 * `runContainer` that launches, starts, collects stdout/stderr and waits.
 *
 * @module
 */
import * as path from "node:path";
import { launch, LaunchError } from "../../src/runtime/launcher.ts";
import type { OciSpec } from "../../src/runtime/oci_spec.ts";
import { reaper } from "../../src/runtime/reaper.ts";
import { createStdio } from "../../src/runtime/stdio.ts";

/** Docker's default capability set (CapEff/CapBnd 00000000a80425fb). */
export const DOCKER_DEFAULT_CAPS = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_FSETID",
  "CAP_FOWNER",
  "CAP_MKNOD",
  "CAP_NET_RAW",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETFCAP",
  "CAP_SETPCAP",
  "CAP_NET_BIND_SERVICE",
  "CAP_SYS_CHROOT",
  "CAP_KILL",
  "CAP_AUDIT_WRITE",
];

/** Docker's masked paths. */
export const MASKED_PATHS = [
  "/proc/asound",
  "/proc/acpi",
  "/proc/kcore",
  "/proc/keys",
  "/proc/latency_stats",
  "/proc/timer_list",
  "/proc/timer_stats",
  "/proc/sched_debug",
  "/proc/scsi",
  "/sys/firmware",
  "/sys/devices/virtual/powercap",
];

/** Docker's read-only paths. */
export const READONLY_PATHS = [
  "/proc/bus",
  "/proc/fs",
  "/proc/irq",
  "/proc/sys",
  "/proc/sysrq-trigger",
];

const APPLETS = [
  "sh",
  "echo",
  "cat",
  "id",
  "ls",
  "true",
  "false",
  "env",
  "pwd",
  "hostname",
  "grep",
  "sleep",
  "stat",
  "touch",
  "readlink",
  "mount",
  "test",
  "head",
  "wc",
];

/** A temp dir holding `rootfs/` (busybox) and an empty `merged/` mount point. */
export interface TestRoot {
  dir: string;
  rootfs: string;
  merged: string;
  runDir: string;
}

/** Builds a busybox rootfs in a new temp dir. */
export function makeBusyboxRoot(): TestRoot {
  const dir = Deno.makeTempDirSync({ prefix: "docker-ts-launch-" });
  const rootfs = path.join(dir, "rootfs");
  for (const d of ["bin", "etc", "proc", "sys", "dev", "tmp", "root", "home/user"]) {
    Deno.mkdirSync(path.join(rootfs, d), { recursive: true });
  }
  Deno.copyFileSync("/bin/busybox", path.join(rootfs, "bin/busybox"));
  Deno.chmodSync(path.join(rootfs, "bin/busybox"), 0o755);
  for (const a of APPLETS) Deno.symlinkSync("busybox", path.join(rootfs, "bin", a));
  Deno.writeTextFileSync(
    path.join(rootfs, "etc/passwd"),
    "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n",
  );
  Deno.writeTextFileSync(path.join(rootfs, "etc/group"), "root:x:0:\nuser:x:1000:\n");
  const merged = path.join(dir, "merged");
  Deno.mkdirSync(merged);
  const runDir = path.join(dir, "run");
  Deno.mkdirSync(runDir);
  return { dir, rootfs, merged, runDir };
}

/** A spec shaped like the one Docker generates for `docker run --network none`. */
export function dockerLikeSpec(
  root: TestRoot,
  args: string[],
  patch: Partial<OciSpec> = {},
): OciSpec {
  return {
    ociVersion: "1.0.2",
    process: {
      user: { uid: 0, gid: 0 },
      args,
      env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOSTNAME=ctr"],
      cwd: "/",
      capabilities: {
        bounding: DOCKER_DEFAULT_CAPS,
        effective: DOCKER_DEFAULT_CAPS,
        permitted: DOCKER_DEFAULT_CAPS,
      },
      noNewPrivileges: false,
    },
    root: { path: root.merged, readonly: false },
    hostname: "ctr",
    mounts: [
      {
        destination: "/proc",
        type: "proc",
        source: "proc",
        options: ["nosuid", "noexec", "nodev"],
      },
      {
        destination: "/dev",
        type: "tmpfs",
        source: "tmpfs",
        options: ["nosuid", "strictatime", "mode=755", "size=65536k"],
      },
      {
        destination: "/dev/pts",
        type: "devpts",
        source: "devpts",
        options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
      },
      {
        destination: "/sys",
        type: "sysfs",
        source: "sysfs",
        options: ["nosuid", "noexec", "nodev", "ro"],
      },
      {
        destination: "/sys/fs/cgroup",
        type: "cgroup",
        source: "cgroup",
        options: ["ro", "nosuid", "noexec", "nodev"],
      },
      {
        destination: "/dev/mqueue",
        type: "mqueue",
        source: "mqueue",
        options: ["nosuid", "noexec", "nodev"],
      },
      {
        destination: "/dev/shm",
        type: "tmpfs",
        source: "shm",
        options: ["nosuid", "noexec", "nodev", "mode=1777", "size=67108864"],
      },
    ],
    linux: {
      namespaces: [
        { type: "mount" },
        { type: "network" },
        { type: "uts" },
        { type: "pid" },
        { type: "ipc" },
        { type: "cgroup" },
      ],
      maskedPaths: MASKED_PATHS,
      readonlyPaths: READONLY_PATHS,
    },
    ...patch,
  };
}

/** What a finished test container produced. */
export interface RunResult {
  exitCode: number;
  signal?: string;
  stdout: string;
  stderr: string;
  /** Set when launch/start failed with a LaunchError. */
  error?: LaunchError;
  pid: number;
  timings: Record<string, number>;
}

async function collect(stream?: ReadableStream<Uint8Array>): Promise<string> {
  if (!stream) return "";
  return await new Response(stream).text();
}

/** Launches, starts and waits for a container; never throws a LaunchError (returns it). */
export async function runContainer(
  root: TestRoot,
  spec: OciSpec,
  options: {
    onSpawn?: (pid: number) => void | Promise<void>;
    bindRoot?: boolean;
    cgroupPaths?: Record<string, string>;
  } = {},
): Promise<RunResult> {
  const stdio = createStdio({ stdin: "null", stdout: "pipe", stderr: "pipe" });
  const out = collect(stdio.stdout);
  const err = collect(stdio.stderr);
  try {
    const proc = await launch({
      id: "test",
      spec,
      rootfs: { type: "bind", source: root.rootfs, options: ["rbind"] },
      runDir: root.runDir,
      stdio,
      reaper: reaper(),
      onSpawn: options.onSpawn,
      cgroupPaths: options.cgroupPaths,
    });
    let error: LaunchError | undefined;
    try {
      await proc.start();
    } catch (e) {
      if (!(e instanceof LaunchError)) throw e;
      error = e;
    }
    const exit = await proc.exited;
    return {
      exitCode: exit.exitCode,
      signal: exit.signal,
      stdout: await out,
      stderr: await err,
      error,
      pid: proc.pid,
      timings: proc.timings,
    };
  } catch (e) {
    stdio.close({ streams: false });
    if (!(e instanceof LaunchError)) throw e;
    return {
      exitCode: e.exitCode,
      stdout: await out,
      stderr: await err,
      error: e,
      pid: 0,
      timings: {},
    };
  }
}

/** The host's mount table without the per-line ids (for before/after comparisons). */
export function hostMounts(): string[] {
  return Deno.readTextFileSync("/proc/self/mountinfo").trim().split("\n").map((l) =>
    l.split(" ").slice(3).join(" ")
  ).sort();
}

/** Pids whose parent is this process (running or zombie: an unreaped child is a leak too). */
export function childProcesses(): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === Deno.pid) out.push(Number(e.name));
    } catch {
      // gone
    }
  }
  return out;
}
