/**
 * Turns OCI mount entries into explicit mount steps: flags, propagation, filesystem data and
 * whether a bind needs a read-only remount. Pure (no syscalls), so the translation is unit-tested
 * without root; the init executes the result.
 *
 * @module
 */
import {
  MS_BIND,
  MS_DIRSYNC,
  MS_NOATIME,
  MS_NODEV,
  MS_NODIRATIME,
  MS_NOEXEC,
  MS_NOSUID,
  MS_NOSYMFOLLOW,
  MS_PRIVATE,
  MS_RDONLY,
  MS_REC,
  MS_RELATIME,
  MS_SHARED,
  MS_SLAVE,
  MS_STRICTATIME,
  MS_SYNCHRONOUS,
  MS_UNBINDABLE,
} from "../../ffi/mount.ts";
import type { OciMount } from "./oci_spec.ts";

/** One mount step for the init. */
export interface PlannedMount {
  /** Absolute path inside the container. */
  destination: string;
  /** bind (incl. rbind), cgroup (Docker's special /sys/fs/cgroup), or a filesystem. */
  kind: "bind" | "cgroup" | "fs";
  /** Mount source (host path for binds). */
  source: string;
  /** Filesystem type for `fs` mounts. */
  fstype: string;
  /** MS_* flags (without MS_BIND/MS_REC/propagation). */
  flags: number;
  /** Propagation flag to apply after mounting (MS_PRIVATE, MS_SLAVE, …), 0 for none. */
  propagation: number;
  /** Recursive bind / recursive propagation. */
  recursive: boolean;
  /** Filesystem-specific options (`mode=755,size=65536k`). */
  data: string;
}

const FLAG_OPTIONS: Record<string, { set: boolean; flag: number }> = {
  ro: { set: true, flag: MS_RDONLY },
  rw: { set: false, flag: MS_RDONLY },
  nosuid: { set: true, flag: MS_NOSUID },
  suid: { set: false, flag: MS_NOSUID },
  nodev: { set: true, flag: MS_NODEV },
  dev: { set: false, flag: MS_NODEV },
  noexec: { set: true, flag: MS_NOEXEC },
  exec: { set: false, flag: MS_NOEXEC },
  sync: { set: true, flag: MS_SYNCHRONOUS },
  async: { set: false, flag: MS_SYNCHRONOUS },
  dirsync: { set: true, flag: MS_DIRSYNC },
  noatime: { set: true, flag: MS_NOATIME },
  atime: { set: false, flag: MS_NOATIME },
  nodiratime: { set: true, flag: MS_NODIRATIME },
  diratime: { set: false, flag: MS_NODIRATIME },
  relatime: { set: true, flag: MS_RELATIME },
  norelatime: { set: false, flag: MS_RELATIME },
  strictatime: { set: true, flag: MS_STRICTATIME },
  nostrictatime: { set: false, flag: MS_STRICTATIME },
  nosymfollow: { set: true, flag: MS_NOSYMFOLLOW },
  symfollow: { set: false, flag: MS_NOSYMFOLLOW },
};

const PROPAGATION: Record<string, { flag: number; rec: boolean }> = {
  private: { flag: MS_PRIVATE, rec: false },
  rprivate: { flag: MS_PRIVATE, rec: true },
  slave: { flag: MS_SLAVE, rec: false },
  rslave: { flag: MS_SLAVE, rec: true },
  shared: { flag: MS_SHARED, rec: false },
  rshared: { flag: MS_SHARED, rec: true },
  unbindable: { flag: MS_UNBINDABLE, rec: false },
  runbindable: { flag: MS_UNBINDABLE, rec: true },
};

// Options that are meaningful to other layers (SELinux relabel, copy-up) and not to mount(2).
const IGNORED = new Set(["z", "Z", "tmpcopyup", "notmpcopyup", "defaults"]);

/** Translates one OCI mount into a {@link PlannedMount}. */
export function planMount(m: OciMount): PlannedMount {
  if (!m.destination.startsWith("/")) {
    throw new Error(`Invalid mount destination "${m.destination}": must be absolute`);
  }
  let flags = 0;
  let propagation = 0;
  let propagationRec = false;
  let bind = m.type === "bind";
  let recursive = false;
  const data: string[] = [];
  for (const opt of m.options ?? []) {
    const f = FLAG_OPTIONS[opt];
    if (f) {
      flags = f.set ? flags | f.flag : flags & ~f.flag;
      continue;
    }
    const p = PROPAGATION[opt];
    if (p) {
      propagation = p.flag;
      propagationRec = p.rec;
      continue;
    }
    if (opt === "bind") {
      bind = true;
      continue;
    }
    if (opt === "rbind") {
      bind = true;
      recursive = true;
      continue;
    }
    if (IGNORED.has(opt)) continue;
    data.push(opt);
  }
  const kind = bind ? "bind" : m.type === "cgroup" ? "cgroup" : "fs";
  return {
    destination: normalizeDestination(m.destination),
    kind,
    source: m.source ?? m.type ?? "none",
    fstype: bind ? "" : m.type ?? "none",
    flags,
    propagation,
    recursive: bind ? recursive || propagationRec : propagationRec,
    data: data.join(","),
  };
}

/** Collapses `//`, `.` and `..` in a container path; `..` never climbs above `/`. */
export function normalizeDestination(p: string): string {
  const out: string[] = [];
  for (const part of p.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") out.pop();
    else out.push(part);
  }
  return "/" + out.join("/");
}

/** Plans every mount of a spec in order. */
export function planMounts(mounts: readonly OciMount[]): PlannedMount[] {
  return mounts.map(planMount);
}

/** Flags for mounting the rootfs described by storage (overlay or bind). */
export function planRootfs(rootfs: { type: string; source: string; options: string[] }): {
  bind: boolean;
  flags: number;
  data: string;
} {
  const p = planMount({
    destination: "/",
    type: rootfs.type,
    source: rootfs.source,
    options: rootfs.options,
  });
  return {
    bind: p.kind === "bind",
    flags: p.kind === "bind" ? p.flags | MS_BIND | MS_REC : p.flags,
    data: p.data,
  };
}
