/**
 * The contract between the launcher (engine side) and the container's init: the config file the
 * init reads, the fds it is given and the status messages it writes back. Types and constants
 * only — the init imports this, and its boot time depends on importing little.
 *
 * @module
 */
import type { OciSpec, RootfsMount } from "./oci_spec.ts";

/** In the init, fd 3 is the write end of the status pipe (close-on-exec once the init runs). */
export const STATUS_FD = 3;
/**
 * In the init, fd 4 is the read end of the "go" pipe: the launcher writes one byte once the
 * engine's `onSpawn` hook (cgroup join) has run. The init reads it before creating its cgroup
 * namespace, so the namespace's root is the container's own cgroup.
 */
export const GO_FD = 4;

/**
 * In the init, fd 5 is a memfd holding the {@link InitConfig} as JSON (no file to write, fsync or
 * clean up; read through /proc/self/fd/5 before the pivot).
 */
export const CONFIG_FD = 5;

/** What the launcher hands the init on {@link CONFIG_FD}. */
export interface InitConfig {
  /** The container's OCI spec (the init uses process, root, hostname, mounts, linux). */
  spec: OciSpec;
  /** How to mount the rootfs on `spec.root.path`; null when it is already a mount point. */
  rootfs: RootfsMount | null;
  /** The fifo that gates `start` (opened read-write by the init, written by `start()`). */
  gatePath: string;
  /** Create a cgroup namespace after the go byte (spec asks for a new one). */
  newCgroupNs: boolean;
  /** Host path of the pty slave to bind on /dev/console, when the process has a terminal. */
  consolePath?: string;
  /**
   * The container's terminal comes from its own devpts: this fd (in whichever process mounts
   * the tree: {@link DEVPTS_FD} in the init, the engine's own fd in the launch Worker) is a
   * devpts instance mounted nowhere, attached at /dev/pts in place of a new one; `consolePath`
   * is then the slave's path inside the container.
   */
  devptsFd?: number;
  /** Without a cgroup namespace: host cgroup dirs to bind at /sys/fs/cgroup/<key> (ro). */
  cgroupPaths?: Readonly<Record<string, string>>;
  /**
   * The launch Worker mounts the container's tree (init_mounts.ts) while the init boots; the go
   * byte then also means "mounted", and the init only pivots. False: the init mounts it.
   */
  premounted?: boolean;
  /** Fd {@link KEEP_SRC_FD} (cold) or the claim's fifth fd (warm) is to be kept at KEPT_FD. */
  keep?: boolean;
}

/** One line of the status pipe, written by the init as JSON. */
export type InitStatus =
  | {
    /**
     * Sent right before execve: wall-clock times (epoch ms) at which the last preparations
     * before the gate ended (`prepared`), the gate opened (`gate`) and the credentials were
     * dropped (`creds`), so the engine can split its exec stage.
     */
    t: "exec";
    timings: { prepared: number; gate: number; creds: number };
  }
  | {
    t: "ready";
    /** Wall-clock times (epoch ms) at each stage end: main, mounts, pivot, setup, ready. */
    timings: Record<string, number>;
  }
  | {
    t: "error";
    /** "setup" before the gate (engine exit 125/126/127), "exec" after it. */
    stage: "setup" | "exec";
    /** 125 (setup), 126 (cannot execute) or 127 (not found). */
    exitCode: number;
    /** One line, without a trailing period. */
    message: string;
  };

/**
 * The init's argument that makes it a warm init: spawned before its container is known, with
 * /dev/null on 0–2 and, on {@link GO_FD}, a SEQPACKET socket instead of the go pipe. Its first
 * message carries one byte and the fds [config memfd, stdin, stdout, stderr]; a later one-byte
 * message is the go byte. End of file before the claim: exit 0 quietly (discarded).
 */
export const WARM_ARG = "--warm";

/** In a cold-launched init, fd 6 is the fd to keep at 1023 when the config says `keep`. */
export const KEEP_SRC_FD = 6;

/** Where a cold init finds the container's devpts instance (see {@link InitConfig.devptsFd}). */
export const DEVPTS_FD = 7;

/**
 * The launch Worker's `ttySlave` for a slave without a path in its mount namespace (one of the
 * container's own devpts): the child reopens its fd 0 through /proc/self/fd to make it its
 * controlling terminal.
 */
export const TTY_SLAVE_FD0 = "fd:0";

/** Where a detached interactive container keeps the engine's stdio end (see ContainerState). */
export const KEPT_FD = 1023;

/** The message that warms a launch Worker (symbols loaded, ready for one launch) and its answer. */
export const WARM = "warm";
