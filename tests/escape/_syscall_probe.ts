/**
 * Runs INSIDE a container (the host's deno binary and libc are bound in read-only): makes raw
 * syscalls a container must not be able to make and prints one JSON object `{ name: result }`,
 * where result is `ok` or `errno:<n>`. Self-contained on purpose (no project imports): the
 * container sees only this file.
 *
 * Usage: deno run -A --no-config _syscall_probe.ts <host pid>
 */

// x86_64 / aarch64 numbers of the calls probed.
const NR: Record<string, [number, number]> = {
  keyctl: [250, 219],
  add_key: [248, 217],
  request_key: [249, 218],
  bpf: [321, 280],
  perf_event_open: [298, 241],
  ptrace: [101, 117],
  kexec_load: [246, 104],
  init_module: [175, 105],
  open_by_handle_at: [304, 265],
  setns: [308, 268],
  mount: [165, 40],
  umount2: [166, 39],
  pivot_root: [155, 41],
  swapon: [167, 224],
  reboot: [169, 142],
  syslog: [103, 116],
  getpid: [39, 172],
};

const lib = Deno.dlopen(
  Deno.build.arch === "aarch64"
    ? "/lib/aarch64-linux-gnu/libc.so.6"
    : "/lib/x86_64-linux-gnu/libc.so.6",
  {
    syscall: { parameters: ["i64", "i64", "i64", "i64", "i64", "i64", "i64"], result: "i64" },
    __errno_location: { parameters: [], result: "pointer" },
  },
);

function errno(): number {
  const p = lib.symbols.__errno_location();
  return p === null ? -1 : new Deno.UnsafePointerView(p).getInt32();
}

function cstr(s: string): bigint {
  const buf = new TextEncoder().encode(s + "\0");
  keep.push(buf);
  return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buf)));
}
const keep: Uint8Array[] = [];

function call(name: string, ...args: bigint[]): string {
  const nr = NR[name][Deno.build.arch === "aarch64" ? 1 : 0];
  const a = [...args, 0n, 0n, 0n, 0n, 0n, 0n].slice(0, 6) as [
    bigint,
    bigint,
    bigint,
    bigint,
    bigint,
    bigint,
  ];
  const r = Number(lib.symbols.syscall(BigInt(nr), ...a));
  return r === -1 ? `errno:${errno()}` : "ok";
}

const hostPid = BigInt(Deno.args[0] ?? "1");
const KEY_SPEC_PROCESS_KEYRING = -2n;
const attr = new Uint8Array(128); // perf_event_attr: zeroed, size set below
new DataView(attr.buffer).setUint32(4, 128, true);
keep.push(attr);
const attrPtr = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(attr)));
const bpfAttr = new Uint8Array(128);
keep.push(bpfAttr);
const bpfPtr = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(bpfAttr)));

const out: Record<string, string> = {
  getpid: call("getpid"),
  // KEYCTL_GET_KEYRING_ID of the session keyring.
  keyctl: call("keyctl", 0n, -3n, 0n),
  add_key: call("add_key", cstr("user"), cstr("escape"), cstr("v"), 1n, KEY_SPEC_PROCESS_KEYRING),
  request_key: call("request_key", cstr("user"), cstr("escape"), 0n, 0n),
  // BPF_MAP_CREATE with a zeroed attr.
  bpf: call("bpf", 0n, bpfPtr, 128n),
  perf_event_open: call("perf_event_open", attrPtr, 0n, -1n, -1n, 0n),
  // PTRACE_ATTACH to a host process, and PTRACE_ATTACH to our own parent (pid 1 of the container).
  ptrace_host: call("ptrace", 16n, hostPid),
  kexec_load: call("kexec_load", 0n, 0n, 0n, 0n),
  init_module: call("init_module", 0n, 0n, cstr("")),
  open_by_handle_at: call("open_by_handle_at", -100n, bpfPtr, 0n),
  // setns on our own mount namespace fd.
  setns: (() => {
    const fd = Deno.openSync("/proc/self/ns/mnt");
    fd.close();
    return call("setns", 0n, 0x00020000n);
  })(),
  mount: call("mount", cstr("none"), cstr("/tmp"), cstr("tmpfs"), 0n, 0n),
  umount2: call("umount2", cstr("/proc"), 2n),
  pivot_root: call("pivot_root", cstr("/tmp"), cstr("/tmp")),
  swapon: call("swapon", cstr("/nonexistent"), 0n),
  reboot: call("reboot", 0n, 0n, 0n, 0n), // bad magic: EINVAL if it got through
  syslog: call("syslog", 10n, 0n, 0n), // SYSLOG_ACTION_SIZE_BUFFER
};
console.log(JSON.stringify(out));
