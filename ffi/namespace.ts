/**
 * Linux namespaces: unshare(2), setns(2) and the namespace flags. These calls change only the
 * calling thread, so they must run on a single-use Worker (never the engine's main thread) and
 * synchronously (DENO-FACTS 2–4).
 *
 * @module
 */
import { libc } from "./library.ts";
import { NAMESPACE_SYMBOLS, NETIF_SYMBOLS } from "./launch_symbols.ts";
import { closeFd } from "./process.ts";
import { errno } from "./errno.ts";
import { SyscallError } from "./syscall_error.ts";

/** New mount namespace. */
export const CLONE_NEWNS = 0x00020000;
/** New cgroup namespace. */
export const CLONE_NEWCGROUP = 0x02000000;
/** New UTS (hostname) namespace. */
export const CLONE_NEWUTS = 0x04000000;
/** New IPC namespace. */
export const CLONE_NEWIPC = 0x08000000;
/** New user namespace. */
export const CLONE_NEWUSER = 0x10000000;
/** New pid namespace (for the children of the caller). */
export const CLONE_NEWPID = 0x20000000;
/** New network namespace. */
export const CLONE_NEWNET = 0x40000000;
/** New time namespace. */
export const CLONE_NEWTIME = 0x00000080;
/** Unshare the fs struct (root, cwd, umask); needed before setns(CLONE_NEWNS) in a thread. */
export const CLONE_FS = 0x00000200;

/** The OCI namespace type names and their clone flags. */
export const NAMESPACE_FLAGS: Readonly<Record<string, number>> = {
  pid: CLONE_NEWPID,
  network: CLONE_NEWNET,
  mount: CLONE_NEWNS,
  ipc: CLONE_NEWIPC,
  uts: CLONE_NEWUTS,
  user: CLONE_NEWUSER,
  cgroup: CLONE_NEWCGROUP,
  time: CLONE_NEWTIME,
};

function lib(): Deno.DynamicLibrary<typeof NAMESPACE_SYMBOLS>["symbols"] {
  return libc("namespace", NAMESPACE_SYMBOLS);
}

/** Loads the namespace symbols now (a warm launch Worker pays the dlopen before it is needed). */
export function preloadNamespace(): void {
  lib();
}

/** unshare(2) on the calling thread. */
export function unshare(flags: number): void {
  if (lib().unshare(flags) === -1) {
    throw new SyscallError("unshare", errno(), {
      action: `Cannot unshare namespaces (flags 0x${flags.toString(16)})`,
    });
  }
}

/** setns(2): makes the calling thread join the namespace open at `fd`. */
export function setns(fd: number, nstype: number, what?: string): void {
  if (lib().setns(fd, nstype) === -1) {
    throw new SyscallError("setns", errno(), {
      action: "Cannot join namespace",
      path: what ?? `fd ${fd}`,
    });
  }
}

const AF_INET = 2;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const SIOCGIFFLAGS = 0x8913n;
const SIOCSIFFLAGS = 0x8914n;
const IFF_UP = 1;

/**
 * Brings the loopback interface of the caller's (new) network namespace up, as Docker's
 * `--network none` has it. ioctl(SIOCSIFFLAGS) keeps this free of netlink.
 */
export function bringLoopbackUp(): void {
  const l = libc("netif", NETIF_SYMBOLS);
  const fd = l.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd === -1) {
    throw new SyscallError("socket", errno(), { action: "Cannot open a socket for", path: "lo" });
  }
  try {
    // struct ifreq: char ifr_name[16]; union { short ifr_flags; … } (40 bytes in all).
    const ifr = new Uint8Array(40);
    ifr.set(new TextEncoder().encode("lo"));
    if (l.ioctl(fd, SIOCGIFFLAGS, ifr) === -1) {
      throw new SyscallError("ioctl", errno(), { action: "Cannot read flags of", path: "lo" });
    }
    const v = new DataView(ifr.buffer);
    v.setInt16(16, v.getInt16(16, true) | IFF_UP, true);
    if (l.ioctl(fd, SIOCSIFFLAGS, ifr) === -1) {
      throw new SyscallError("ioctl", errno(), { action: "Cannot bring up", path: "lo" });
    }
  } finally {
    closeFd(fd);
  }
}
