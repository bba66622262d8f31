/**
 * posix_spawn(3) with file actions and attributes. posix_spawn creates no thread in the caller,
 * which is what makes it usable right after unshare(CLONE_NEWPID) on a Worker (DENO-FACTS 4).
 *
 * @module
 */
import { libc } from "./library.ts";
import { SPAWN_SYMBOLS } from "./launch_symbols.ts";
import { cstr, CStringArray } from "./cstring.ts";
import { SyscallError } from "./syscall_error.ts";

/** posix_spawnattr flags. */
export const POSIX_SPAWN_SETPGROUP = 0x02;
/** Reset the signals in the sigdefault set to SIG_DFL in the child. */
export const POSIX_SPAWN_SETSIGDEF = 0x04;
/** Set the child's signal mask. */
export const POSIX_SPAWN_SETSIGMASK = 0x08;
/** Make the child a session leader (glibc). */
export const POSIX_SPAWN_SETSID = 0x80;

// glibc x86_64/aarch64: posix_spawn_file_actions_t is 80 bytes, posix_spawnattr_t 336 and
// sigset_t 128; the buffers are oversized on purpose.
const FILE_ACTIONS_SIZE = 256;
const ATTR_SIZE = 512;
const SIGSET_SIZE = 128;

function lib(): Deno.DynamicLibrary<typeof SPAWN_SYMBOLS>["symbols"] {
  return libc("spawn", SPAWN_SYMBOLS);
}

/** One file action, applied in order in the child before exec. */
export type FileAction =
  | { op: "dup2"; fd: number; newfd: number }
  | { op: "open"; fd: number; path: string; flags: number; mode?: number }
  | { op: "closefrom"; fd: number };

/** What to spawn and how. */
export interface SpawnOptions {
  /** Absolute path of the program. */
  path: string;
  /** argv, including argv[0]. */
  argv: readonly string[];
  /** The exact environment. */
  env: readonly string[];
  /** File actions, in order. */
  fileActions?: readonly FileAction[];
  /** Make the child a session leader (needed to give it a controlling terminal). */
  setsid?: boolean;
}

/** Loads the spawn symbols now (a warm launch Worker pays the dlopen before it is needed). */
export function preloadSpawn(): void {
  lib();
}

// posix_spawn functions return the error number instead of setting errno.
function check(rc: number, what: string, path?: string): void {
  if (rc !== 0) throw new SyscallError(what, rc, { path });
}

/**
 * posix_spawn(3): starts `options.path` with an empty signal mask and every signal reset to its
 * default, applying the file actions. Returns the child's pid.
 */
export function posixSpawn(options: SpawnOptions): number {
  const l = lib();
  const fa = new Uint8Array(FILE_ACTIONS_SIZE);
  const attr = new Uint8Array(ATTR_SIZE);
  const keep: unknown[] = [];
  check(l.posix_spawn_file_actions_init(fa), "posix_spawn_file_actions_init");
  try {
    check(l.posix_spawnattr_init(attr), "posix_spawnattr_init");
    try {
      for (const a of options.fileActions ?? []) {
        if (a.op === "dup2") {
          check(
            l.posix_spawn_file_actions_adddup2(fa, a.fd, a.newfd),
            "posix_spawn_file_actions_adddup2",
          );
        } else if (a.op === "open") {
          const p = cstr(a.path);
          keep.push(p);
          check(
            l.posix_spawn_file_actions_addopen(fa, a.fd, p, a.flags, a.mode ?? 0),
            "posix_spawn_file_actions_addopen",
            a.path,
          );
        } else {
          check(
            l.posix_spawn_file_actions_addclosefrom_np(fa, a.fd),
            "posix_spawn_file_actions_addclosefrom_np",
          );
        }
      }
      const empty = new Uint8Array(SIGSET_SIZE);
      const all = new Uint8Array(SIGSET_SIZE);
      l.sigemptyset(empty);
      l.sigfillset(all);
      check(l.posix_spawnattr_setsigmask(attr, empty), "posix_spawnattr_setsigmask");
      check(l.posix_spawnattr_setsigdefault(attr, all), "posix_spawnattr_setsigdefault");
      let flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
      if (options.setsid) flags |= POSIX_SPAWN_SETSID;
      check(l.posix_spawnattr_setflags(attr, flags), "posix_spawnattr_setflags");
      const argv = new CStringArray(options.argv);
      const envp = new CStringArray(options.env);
      const pid = new Int32Array(1);
      const rc = l.posix_spawn(
        new Uint8Array(pid.buffer),
        cstr(options.path),
        fa,
        attr,
        argv.pointer,
        envp.pointer,
      );
      void argv.array;
      void envp.array;
      if (rc !== 0) {
        throw new SyscallError("posix_spawn", rc, { action: "Cannot spawn", path: options.path });
      }
      return pid[0];
    } finally {
      l.posix_spawnattr_destroy(attr);
    }
  } finally {
    l.posix_spawn_file_actions_destroy(fa);
    void keep;
  }
}
