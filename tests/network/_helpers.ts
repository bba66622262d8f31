/**
 * Test harness for network tests: unique `dtst…` names, test-owned network namespaces and small
 * command runners. Everything created here is deleted by the caller's `finally`.
 *
 * @module
 */

/** A unique docker-ts-test name: `dtst` + 6 hex + suffix (≤ 15 bytes for interface names). */
export function testName(suffix = ""): string {
  const rand = crypto.getRandomValues(new Uint8Array(3));
  return `dtst${[...rand].map((b) => b.toString(16).padStart(2, "0")).join("")}${suffix}`;
}

/** Runs a command; returns its exit code and output. */
export function run(cmd: string, args: string[]): { code: number; stdout: string; stderr: string } {
  const out = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).outputSync();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Runs a command and throws on a non-zero exit. */
export function mustRun(cmd: string, args: string[]): string {
  const r = run(cmd, args);
  if (r.code !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} failed (${r.code}): ${r.stderr.trim()}`);
  }
  return r.stdout;
}

/** A network namespace made by the test (`ip netns add`), deleted by `remove()`. */
export class TestNetns {
  readonly name: string;
  constructor(name = testName("n")) {
    this.name = name;
    mustRun("ip", ["netns", "add", name]);
  }
  /** Its bind mount, for setns / IFLA_NET_NS_FD. */
  get path(): string {
    return `/run/netns/${this.name}`;
  }
  /** Runs a command inside it. */
  exec(args: string[]): { code: number; stdout: string; stderr: string } {
    return run("ip", ["netns", "exec", this.name, ...args]);
  }
  /** Deletes it (idempotent). */
  remove(): void {
    run("ip", ["netns", "del", this.name]);
  }
}
