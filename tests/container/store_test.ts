import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import {
  ConflictError,
  InvalidArgumentError,
  InvalidStateError,
  NotFoundError,
} from "../../src/errors.ts";
import { Paths } from "../../src/paths.ts";
import { newContainerId, randomName } from "../../src/container/ids.ts";
import {
  assertCanDo,
  canDo,
  type ContainerState,
  deriveStatus,
  initialState,
  processAlive,
  readProcStat,
} from "../../src/container/state.ts";
import { type ContainerRecord, ContainerStore } from "../../src/container/store.ts";
import { parseRunOptions } from "../../src/spec/run_options.ts";
import type { OciSpec } from "../../src/runtime/oci_spec.ts";

function record(id: string): Omit<ContainerRecord, "name"> {
  return {
    id,
    image: "busybox",
    imageId: "sha256:" + "0".repeat(64),
    created: new Date().toISOString(),
    options: parseRunOptions({ image: "busybox" }),
    labels: {},
    entrypoint: null,
    cmd: ["sh"],
    imageConfig: { Env: [], WorkingDir: "", User: "" },
    rootfs: { type: "bind", source: "/x", options: [] },
    layerDirs: [],
    paths: {
      dir: "",
      config: "",
      hostname: "",
      hosts: "",
      resolvConf: "",
      upper: "",
      work: "",
      merged: "",
    },
  };
}
const SPEC = { ociVersion: "1.0.2" } as unknown as OciSpec;

async function withStore(
  fn: (store: ContainerStore, paths: Paths) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    const paths = new Paths(path.join(dir, "root"), path.join(dir, "run"));
    await fn(new ContainerStore(paths), paths);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("ids and random names", () => {
  const id = newContainerId();
  assert.match(id, /^[a-f0-9]{64}$/);
  assert.notEqual(id, newContainerId());
  assert.match(randomName(), /^[a-z]+_[a-z]+$/);
  assert.match(randomName(1), /^[a-z]+_[a-z]+\d$/);
});

Deno.test("status derivation from facts", () => {
  const st = (s: Partial<ContainerState>) => ({ ...initialState(), ...s });
  const alive = (start: string) => (_pid: number) => ({ startTime: start, state: "S" });
  const gone = () => null;
  assert.equal(deriveStatus(st({})), "created");
  assert.equal(
    deriveStatus(st({ pid: 5, pidStartTime: "100", startedAt: "t" }), alive("100")),
    "running",
  );
  assert.equal(
    deriveStatus(st({ pid: 5, pidStartTime: "100", startedAt: "t", paused: true }), alive("100")),
    "paused",
  );
  // dead pid
  assert.equal(deriveStatus(st({ pid: 5, pidStartTime: "100", startedAt: "t" }), gone), "exited");
  // pid reused by another process (different start time)
  assert.equal(
    deriveStatus(st({ pid: 5, pidStartTime: "100", startedAt: "t" }), alive("999")),
    "exited",
  );
  // zombie: exited, not yet reaped
  assert.equal(
    deriveStatus(
      st({ pid: 5, pidStartTime: "100", startedAt: "t" }),
      () => ({ startTime: "100", state: "Z" }),
    ),
    "exited",
  );
  assert.equal(deriveStatus(st({ startedAt: "t", finishedAt: "u", exitCode: 0 })), "exited");
  assert.equal(deriveStatus(st({ dead: true })), "dead");
});

Deno.test("real /proc: this process is alive, a bogus start time is not", () => {
  const me = readProcStat(Deno.pid)!;
  assert.ok(me.startTime.length > 0);
  assert.ok(processAlive({ pid: Deno.pid, pidStartTime: me.startTime }));
  assert.ok(!processAlive({ pid: Deno.pid, pidStartTime: "1" }));
  assert.ok(!processAlive({ pid: 2 ** 22 + 7, pidStartTime: null }));
});

Deno.test("guarded transitions", () => {
  assert.ok(canDo("start", "created"));
  assert.ok(canDo("start", "exited"));
  assert.ok(!canDo("start", "running"));
  assert.ok(!canDo("remove", "running"));
  assert.ok(canDo("kill", "running"));
  assert.throws(() => assertCanDo("kill", "exited", "abc"), InvalidStateError);
  assert.throws(
    () => assertCanDo("remove", "running", "abc"),
    /You cannot remove a running container abc\. Stop the container before attempting removal or force remove/,
  );
});

Deno.test("create, get, resolve by id, prefix and name, delete", async () => {
  await withStore(async (store, paths) => {
    const a = "aaaa" + newContainerId().slice(4);
    const b = "aaab" + newContainerId().slice(4);
    const ra = await store.create({
      record: record(a),
      requestedName: "/web",
      spec: SPEC,
      files: { hosts: "x\n" },
    });
    assert.equal(ra.name, "web");
    const rb = await store.create({ record: record(b), spec: SPEC, files: {} });
    assert.match(rb.name, /^[a-z]+_[a-z]+\d?$/);
    assert.equal(fs.readFileSync(path.join(paths.container(a), "hosts"), "utf8"), "x\n");
    assert.deepEqual(store.spec(a), SPEC);
    assert.equal(store.get(a).state.pid, null);
    assert.equal(store.resolve(a), a);
    assert.equal(store.resolve("web"), a);
    assert.equal(store.resolve("/web"), a);
    assert.equal(store.resolve("aaaa"), a);
    assert.equal(store.resolve(rb.name), b);
    assert.throws(
      () => store.resolve("aaa"),
      (e: unknown) => e instanceof InvalidArgumentError && /Multiple IDs/.test(e.message),
    );
    assert.throws(
      () => store.resolve("nosuch"),
      (e: unknown) => e instanceof NotFoundError && e.message === "No such container: nosuch",
    );
    await store.updateState(a, (s) => ({ ...s, exitCode: 3 }));
    assert.equal(store.get(a).state.exitCode, 3);
    // no temp directories left
    assert.deepEqual(fs.readdirSync(paths.containersDir).filter((n) => n.startsWith(".")), []);
    store.delete(a);
    store.delete(a);
    assert.throws(() => store.get(a), NotFoundError);
    assert.deepEqual(store.ids(), [b]);
    // deleteLater: unlisted (and its name free) at once, files gone when the promise settles.
    const purged = store.deleteLater(b);
    assert.throws(() => store.get(b), NotFoundError);
    assert.throws(() => store.resolve(rb.name), NotFoundError);
    assert.deepEqual(store.ids(), []);
    await purged;
    assert.deepEqual(fs.readdirSync(paths.containersDir), []);
    await store.deleteLater(b);
  });
});

Deno.test("name conflicts use Docker's message; bad names are refused", async () => {
  await withStore(async (store) => {
    const a = newContainerId();
    await store.create({ record: record(a), requestedName: "db", spec: SPEC, files: {} });
    await assert.rejects(
      store.create({
        record: record(newContainerId()),
        requestedName: "db",
        spec: SPEC,
        files: {},
      }),
      (e: unknown) => {
        assert.ok(e instanceof ConflictError);
        assert.equal(
          e.message,
          `Conflict. The container name "/db" is already in use by container "${a}". You have to remove (or rename) that container to be able to reuse that name.`,
        );
        return true;
      },
    );
    await assert.rejects(
      store.create({ record: record(newContainerId()), requestedName: "a", spec: SPEC, files: {} }),
      InvalidArgumentError,
    );
    assert.equal(store.ids().length, 1);
  });
});

Deno.test("concurrent creates of one name from two processes: exactly one wins", async () => {
  await withStore(async (_store, paths) => {
    const script = new URL("./_create_child.ts", import.meta.url).pathname;
    const children = [0, 1, 2, 3].map(() =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", script, paths.root, paths.runroot, "same"],
        stdout: "piped",
        stderr: "piped",
      }).output()
    );
    const results = await Promise.all(children);
    const outs = results.map((r) => new TextDecoder().decode(r.stdout).trim());
    assert.equal(outs.filter((o) => o === "created").length, 1, outs.join(","));
    assert.equal(outs.filter((o) => o === "conflict").length, 3, outs.join(","));
    assert.equal(new ContainerStore(paths).ids().length, 1);
  });
});
