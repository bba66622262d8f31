/**
 * Harness for tests against the real kernel: a unique parent cgroup per test, children that the
 * test starts (and only those are ever signalled), and cleanup of every cgroup and process.
 *
 * @module
 */
import { detectCgroupDriver } from "../../src/cgroups/mod.ts";
import type { CgroupDriver, CgroupHandle } from "../../src/cgroups/mod.ts";

/** One test's cgroups and processes. */
export class RealFixture {
  readonly parent = `docker-ts-test-${crypto.randomUUID().slice(0, 8)}`;
  readonly driver: CgroupDriver;
  readonly children: Deno.ChildProcess[] = [];
  readonly handles: CgroupHandle[] = [];

  constructor(root: string) {
    this.driver = detectCgroupDriver({ root, parent: this.parent });
  }

  /** `<parent>/<leaf>` */
  name(leaf: string): string {
    return `${this.parent}/${leaf}`;
  }

  /** Creates and remembers a cgroup for cleanup. */
  create(leaf: string, resources: Parameters<CgroupDriver["create"]>[1] = {}): CgroupHandle {
    const cg = this.driver.create(this.name(leaf), resources);
    this.handles.push(cg);
    return cg;
  }

  /** Starts `/bin/busybox <args>` and remembers it. */
  spawn(args: string[], options: Deno.CommandOptions = {}): Deno.ChildProcess {
    const child = new Deno.Command("/bin/busybox", {
      args,
      stdin: "null",
      stdout: "null",
      stderr: "null",
      ...options,
    }).spawn();
    this.children.push(child);
    return child;
  }

  /**
   * Kills what the test started, removes its cgroups and the parent. Processes forked by the
   * test's children live only in the test's cgroups, so killAll reaches no one else's.
   */
  async cleanup(): Promise<void> {
    for (const child of this.children) {
      try {
        child.kill("SIGKILL");
      } catch { /* already exited */ }
    }
    for (const child of this.children) {
      await child.status;
      for (const which of ["stdout", "stderr"] as const) {
        try {
          await child[which].cancel();
        } catch { /* not piped, or already consumed */ }
      }
    }
    // Cleanup must run to the end even when one step fails; the first error is rethrown.
    const errors: unknown[] = [];
    for (const cg of this.handles.reverse()) {
      try {
        await cg.thaw();
      } catch { /* no freezer or never frozen */ }
      try {
        await cg.killAll();
        await cg.remove();
      } catch (err) {
        errors.push(err);
      }
    }
    try {
      await this.driver.open(this.parent).remove();
    } catch (err) {
      if (!(err instanceof Error && err.name === "NotFoundError")) errors.push(err);
    }
    if (errors.length > 0) throw errors[0];
  }
}

/** Runs `fn` with a fixture and always cleans up. */
export async function withRealCgroups(
  root: string,
  fn: (fx: RealFixture) => void | Promise<void>,
): Promise<void> {
  const fx = new RealFixture(root);
  try {
    await fn(fx);
  } finally {
    await fx.cleanup();
  }
}

/** Reads a cgroupfs file, trimmed. */
export function readTrim(path: string): string {
  return Deno.readTextFileSync(path).trim();
}

/** Resolves after `ms`. */
export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
