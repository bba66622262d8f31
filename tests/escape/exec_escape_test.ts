/**
 * Escape suite, exec: a process exec'd into a running container gets the same confinement as
 * the container's first process — namespaces, cgroups, capabilities, no_new_privs, seccomp and
 * user — compared from inside the container between pid 1 and the exec'd shell.
 */
import assert from "node:assert/strict";
import type { RunOptionsInput } from "../../src/engine_api.ts";
import { collector, EscapeEnv, needs } from "./_harness.ts";

const NS = ["cgroup", "ipc", "mnt", "net", "pid", "uts", "user"];
const FIELDS = "^(Uid|Gid|Groups|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):";

/** Prints `<section> <value>` lines for `pid` (`1` or `self`). */
function describe(pid: string): string {
  return [
    `for n in ${NS.join(" ")}; do echo "ns $n $(readlink /proc/${pid}/ns/$n)"; done`,
    `sed 's/^/cgroup /' /proc/${pid}/cgroup`,
    `grep -E '${FIELDS}' /proc/${pid}/status | sed 's/^/status /'`,
    `echo "root $(ls -di /proc/${pid}/root/ | cut -d' ' -f1)"`,
  ].join("; ");
}

/** Runs an exec to completion and returns its exit code and output. */
async function exec(
  env: EscapeEnv,
  id: string,
  cmd: string[],
  options: { user?: string; privileged?: boolean } = {},
): Promise<{ code: number; out: string; err: string }> {
  const e = env.engine;
  const execId = await e.execCreate(id, { cmd, ...options });
  const out = collector();
  const err = collector();
  await e.execStart(execId, { stdout: out.stream, stderr: err.stream });
  const info = await e.execInspect(execId);
  return { code: info.ExitCode ?? -1, out: out.text(), err: err.text() };
}

/** Starts a detached `sleep` container with `opts`, runs `fn`, removes it. */
async function withContainer(
  env: EscapeEnv,
  opts: Omit<RunOptionsInput, "image" | "cmd">,
  fn: (id: string) => Promise<void>,
): Promise<void> {
  const { Id } = await env.engine.create({ image: "evil/plain", cmd: ["sleep", "60"], ...opts });
  try {
    await env.engine.start(Id);
    await fn(Id);
  } finally {
    await env.engine.remove(Id, { force: true });
    env.assertNothingLeft(Id);
  }
}

/** Compares what pid 1 and an exec'd process report; returns the exec's lines. */
async function compare(env: EscapeEnv, id: string, user?: string): Promise<string[]> {
  const first = await exec(env, id, ["sh", "-c", describe("1")]);
  assert.equal(first.code, 0, first.err);
  const self = await exec(env, id, ["sh", "-c", describe("self")], { user });
  assert.equal(self.code, 0, self.err);
  const a = first.out.trim().split("\n");
  const b = self.out.trim().split("\n");
  assert.ok(a.length >= NS.length + 10, first.out);
  assert.deepEqual(b, a, "an exec'd process is confined differently from pid 1");
  return b;
}

Deno.test({
  name: "escape/exec: an exec gets pid 1's namespaces, cgroups, caps, seccomp and user",
  ...needs,
  async fn() {
    const env = await EscapeEnv.create("exec");
    try {
      await env.loadOnBusybox("evil/plain:latest", []);
      await withContainer(env, {}, async (id) => {
        const lines = await compare(env, id);
        assert.ok(lines.includes("status Seccomp:\t2"), lines.join("\n"));
        assert.ok(lines.includes("status CapEff:\t00000000a80425fb"));
        // …and, like pid 1, cannot leave: new namespaces and mounts are refused.
        const r = await exec(env, id, [
          "sh",
          "-c",
          "unshare -m true 2>&1; mkdir -p /mnt; mount -t tmpfs x /mnt 2>&1; nsenter -t 1 -m true 2>&1; true",
        ]);
        assert.match(r.out, /unshare\(0x20000\): Operation not permitted/);
        assert.match(r.out, /mount: permission denied/);
        assert.match(
          r.out,
          /setns\(\): can't reassociate to namespace 'mnt': Operation not permitted/,
        );
      });
      // A non-root container with no-new-privileges and fewer caps: the exec inherits all of it.
      await withContainer(env, {
        user: "1000:1000",
        securityOpt: ["no-new-privileges"],
        capDrop: ["ALL"],
        capAdd: ["CHOWN"],
      }, async (id) => {
        const lines = await compare(env, id);
        assert.ok(lines.includes("status Uid:\t1000\t1000\t1000\t1000"), lines.join("\n"));
        assert.ok(lines.includes("status NoNewPrivs:\t1"));
        assert.ok(lines.includes("status CapBnd:\t0000000000000001"));
        assert.ok(lines.includes("status Seccomp:\t2"));
      });
    } finally {
      await env.cleanup();
    }
  },
});

Deno.test({
  name: "escape/exec: exec -u root into a user container stays inside the container's bounds",
  ...needs,
  async fn() {
    const env = await EscapeEnv.create("exec-user");
    try {
      await env.loadOnBusybox("evil/plain:latest", []);
      await withContainer(env, { user: "1000", capDrop: ["ALL"] }, async (id) => {
        // Same namespaces and cgroups as pid 1; uid 0, but only the container's bounding set.
        const r = await exec(env, id, ["sh", "-c", describe("self")], { user: "0" });
        assert.equal(r.code, 0, r.err);
        const first = await exec(env, id, ["sh", "-c", describe("1")]);
        const pick = (t: string) => t.split("\n").filter((l) => /^(ns|cgroup|root) /.test(l));
        assert.deepEqual(pick(r.out), pick(first.out));
        assert.match(r.out, /status Uid:\t0\t0\t0\t0/);
        assert.match(r.out, /status CapBnd:\t0000000000000000/);
        assert.match(r.out, /status CapEff:\t0000000000000000/);
        assert.match(r.out, /status Seccomp:\t2/);
      });
    } finally {
      await env.cleanup();
    }
  },
});
