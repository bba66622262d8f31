/**
 * Test-only FFI `posix_spawn` of a child with given fds on 0/1/2 (or a controlling terminal),
 * standing in for src/runtime/launcher.ts so stdio, pty and reaper tests run on their own.
 *
 * @module
 */
import { libc } from "../../ffi/library.ts";
import { cstr, CStringArray } from "../../ffi/cstring.ts";
import { SyscallError } from "../../ffi/syscall_error.ts";

const spawnSymbols = {
  posix_spawn: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "pointer", "pointer"],
    result: "i32",
  },
  posix_spawn_file_actions_init: { parameters: ["buffer"], result: "i32" },
  posix_spawn_file_actions_destroy: { parameters: ["buffer"], result: "i32" },
  posix_spawn_file_actions_adddup2: { parameters: ["buffer", "i32", "i32"], result: "i32" },
  posix_spawn_file_actions_addopen: {
    parameters: ["buffer", "i32", "buffer", "i32", "u32"],
    result: "i32",
  },
  posix_spawnattr_init: { parameters: ["buffer"], result: "i32" },
  posix_spawnattr_destroy: { parameters: ["buffer"], result: "i32" },
  posix_spawnattr_setflags: { parameters: ["buffer", "i16"], result: "i32" },
  posix_spawnattr_setsigdefault: { parameters: ["buffer", "buffer"], result: "i32" },
  posix_spawnattr_setsigmask: { parameters: ["buffer", "buffer"], result: "i32" },
  sigfillset: { parameters: ["buffer"], result: "i32" },
  sigemptyset: { parameters: ["buffer"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

const POSIX_SPAWN_SETSIGDEF = 0x04;
const POSIX_SPAWN_SETSIGMASK = 0x08;
const POSIX_SPAWN_SETSID = 0x80;

/** What to spawn. */
export interface SpawnOptions {
  /** argv; argv[0] is the executable path. */
  argv: string[];
  /** Environment (default: PATH only). */
  env?: string[];
  /** Fds for the child's 0, 1, 2 (default: ours). */
  fds?: [number, number, number];
  /** Open this terminal as 0/1/2 and make it the controlling terminal (implies setsid). */
  ttyPath?: string;
}

/** Spawns a child with FFI posix_spawn; returns its pid. The caller must reap it. */
export function spawn(options: SpawnOptions): number {
  const s = libc("test-spawn", spawnSymbols);
  const actions = new Uint8Array(256);
  const attr = new Uint8Array(512);
  const sigs = new Uint8Array(128);
  const empty = new Uint8Array(128);
  s.posix_spawn_file_actions_init(actions);
  s.posix_spawnattr_init(attr);
  try {
    let flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
    // Deno ignores SIGPIPE; a child must start with default dispositions and no blocked signals.
    s.sigfillset(sigs);
    s.sigemptyset(empty);
    s.posix_spawnattr_setsigdefault(attr, sigs);
    s.posix_spawnattr_setsigmask(attr, empty);
    const path = options.ttyPath !== undefined ? cstr(options.ttyPath) : undefined;
    if (path) {
      flags |= POSIX_SPAWN_SETSID;
      // Opened without O_NOCTTY by a session leader: it becomes the controlling terminal.
      s.posix_spawn_file_actions_addopen(actions, 0, path, 2, /* O_RDWR */ 0);
      s.posix_spawn_file_actions_adddup2(actions, 0, 1);
      s.posix_spawn_file_actions_adddup2(actions, 0, 2);
    } else {
      const fds = options.fds ?? [0, 1, 2];
      fds.forEach((fd, i) => s.posix_spawn_file_actions_adddup2(actions, fd, i));
    }
    s.posix_spawnattr_setflags(attr, flags);
    const argv = new CStringArray(options.argv);
    const envp = new CStringArray(options.env ?? ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]);
    const pid = new Int32Array(1);
    const rc = s.posix_spawn(
      new Uint8Array(pid.buffer),
      cstr(options.argv[0]),
      actions,
      attr,
      argv.pointer,
      envp.pointer,
    );
    if (rc !== 0) throw new SyscallError("posix_spawn", rc, { path: options.argv[0] });
    return pid[0];
  } finally {
    s.posix_spawn_file_actions_destroy(actions);
    s.posix_spawnattr_destroy(attr);
  }
}

/** argv for `busybox sh -c script`. */
export function sh(script: string): string[] {
  return ["/bin/busybox", "sh", "-c", script];
}
