/**
 * The real {@link CgroupSys}: Deno's sync file APIs against the kernel's cgroupfs.
 *
 * Deno's sync fs calls avoid the `node:fs` import cost on the `run` hot path. Their errors carry
 * `code` for most errnos but not all (ESRCH comes without one), so the errno name is recovered
 * from the "(os error N)" suffix when needed.
 *
 * @module
 */
import { type CgroupSys, CgroupSysError } from "./types.ts";

/** errno numbers (Linux, all architectures Deno runs on) → names and texts. */
const ERRNO: Record<number, [string, string]> = {
  1: ["EPERM", "Operation not permitted"],
  2: ["ENOENT", "No such file or directory"],
  3: ["ESRCH", "No such process"],
  4: ["EINTR", "Interrupted system call"],
  11: ["EAGAIN", "Resource temporarily unavailable"],
  13: ["EACCES", "Permission denied"],
  16: ["EBUSY", "Device or resource busy"],
  17: ["EEXIST", "File exists"],
  19: ["ENODEV", "No such device"],
  20: ["ENOTDIR", "Not a directory"],
  22: ["EINVAL", "Invalid argument"],
  28: ["ENOSPC", "No space left on device"],
  34: ["ERANGE", "Numerical result out of range"],
  39: ["ENOTEMPTY", "Directory not empty"],
  95: ["EOPNOTSUPP", "Operation not supported"],
};

const NAME_TO_TEXT = new Map(Object.values(ERRNO));

/** Turns whatever Deno threw into a {@link CgroupSysError} naming op, path and errno. */
function toSysError(op: string, path: string, err: unknown): CgroupSysError {
  if (err instanceof CgroupSysError) return err;
  const e = err as { code?: unknown; message?: unknown };
  const message = typeof e?.message === "string" ? e.message : String(err);
  let code = typeof e?.code === "string" ? e.code : undefined;
  if (!code) {
    const m = /os error (\d+)/.exec(message);
    if (m) code = ERRNO[Number(m[1])]?.[0] ?? `errno ${m[1]}`;
    else if (err instanceof Deno.errors.NotFound) code = "ENOENT";
    else code = "EIO";
  }
  const detail = NAME_TO_TEXT.get(code) ?? message.replace(/ \(os error \d+\).*$/, "");
  return new CgroupSysError(op, path, code, detail, { cause: err });
}

/** Cgroup host access through the kernel. */
export class RealCgroupSys implements CgroupSys {
  /** Reads a file as text. */
  readFile(path: string): string {
    try {
      return Deno.readTextFileSync(path);
    } catch (err) {
      throw toSysError("read", path, err);
    }
  }
  /** Writes without O_CREAT: a missing control file means a missing controller. */
  writeFile(path: string, data: string): void {
    try {
      Deno.writeTextFileSync(path, data, { create: false });
    } catch (err) {
      throw toSysError("write", path, err);
    }
  }
  /** True when the path exists. */
  exists(path: string): boolean {
    try {
      Deno.statSync(path);
      return true;
    } catch {
      return false;
    }
  }
  /** mkdir; false when it already existed. */
  mkdir(path: string): boolean {
    try {
      Deno.mkdirSync(path);
      return true;
    } catch (err) {
      if (err instanceof Deno.errors.AlreadyExists) return false;
      throw toSysError("mkdir", path, err);
    }
  }
  /** rmdir (Deno.removeSync without `recursive` is rmdir for a directory). */
  rmdir(path: string): void {
    try {
      Deno.removeSync(path);
    } catch (err) {
      throw toSysError("rmdir", path, err);
    }
  }
  /** rename(2) of a cgroup directory (cgroupfs allows it within one parent). */
  rename(from: string, to: string): void {
    try {
      Deno.renameSync(from, to);
    } catch (err) {
      throw toSysError("rename", from, err);
    }
  }
  /** Sub-directories, following symlinks (v1 `cpu` → `cpu,cpuacct`). */
  listDirs(path: string): string[] {
    const out: string[] = [];
    try {
      for (const entry of Deno.readDirSync(path)) {
        if (entry.isDirectory) out.push(entry.name);
        else if (entry.isSymlink && this.exists(`${path}/${entry.name}`)) {
          if (Deno.statSync(`${path}/${entry.name}`).isDirectory) out.push(entry.name);
        }
      }
    } catch (err) {
      throw toSysError("readdir", path, err);
    }
    return out.sort();
  }
  /** realpath. */
  realpath(path: string): string {
    try {
      return Deno.realPathSync(path);
    } catch (err) {
      throw toSysError("realpath", path, err);
    }
  }
  /** kill; ESRCH (already gone) is ignored. */
  kill(pid: number, signal: Deno.Signal): void {
    try {
      Deno.kill(pid, signal);
    } catch (err) {
      const e = toSysError("kill", String(pid), err);
      if (e.code === "ESRCH" || err instanceof Deno.errors.NotFound) return;
      throw e;
    }
  }
}
