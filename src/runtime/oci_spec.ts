/**
 * The subset of the OCI runtime spec (config.json) that docker-ts produces and executes.
 * Field names follow the spec so a bundle's config.json reads the same. The spec builder
 * (src/engine side) writes a fully defaulted one at create; the runtime executes it verbatim.
 *
 * @module
 */

/** A POSIX rlimit. */
export interface OciRlimit {
  type: string; // "RLIMIT_NOFILE"
  hard: number;
  soft: number;
}

/** The container's first process. */
export interface OciProcess {
  terminal?: boolean;
  consoleSize?: { height: number; width: number };
  user: { uid: number; gid: number; umask?: number; additionalGids?: number[] };
  args: string[];
  env: string[];
  cwd: string;
  capabilities?: {
    bounding?: string[];
    effective?: string[];
    inheritable?: string[];
    permitted?: string[];
    ambient?: string[];
  };
  rlimits?: OciRlimit[];
  noNewPrivileges?: boolean;
  /** Not in the OCI spec: create `cwd` inside the rootfs when missing (Docker's WorkingDir rule). */
  createCwd?: boolean;
}

/** A mount inside the container. */
export interface OciMount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}

/** A namespace the container gets (no path: new one; path: join it). */
export interface OciNamespace {
  type: "pid" | "network" | "mount" | "ipc" | "uts" | "user" | "cgroup" | "time";
  path?: string;
}

/** A device node created in the container's /dev. */
export interface OciDevice {
  type: "c" | "b" | "u" | "p";
  path: string;
  major?: number;
  minor?: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
}

/** cgroup resource limits (OCI shape). */
export interface OciResources {
  memory?: { limit?: number; swap?: number; reservation?: number; disableOOMKiller?: boolean };
  cpu?: { shares?: number; quota?: number; period?: number; cpus?: string; mems?: string };
  pids?: { limit: number };
  devices?: { allow: boolean; type?: string; major?: number; minor?: number; access?: string }[];
}

/** Linux-specific configuration. */
export interface OciLinux {
  namespaces: OciNamespace[];
  devices?: OciDevice[];
  cgroupsPath?: string;
  resources?: OciResources;
  maskedPaths?: string[];
  readonlyPaths?: string[];
  rootfsPropagation?: string;
  sysctl?: Record<string, string>;
  seccomp?: unknown;
}

/** A whole OCI runtime config. */
export interface OciSpec {
  ociVersion: string;
  process: OciProcess;
  root: { path: string; readonly?: boolean };
  hostname?: string;
  mounts: OciMount[];
  linux: OciLinux;
  annotations?: Record<string, string>;
}

export type { RootfsMount } from "../storage/mount.ts";
