/**
 * Regression ("Detached containers"): `docker cp` to and from a container that is not running
 * (created or exited) goes through its rootfs mounted in a private namespace on a Worker: the
 * copy works, symlinks stay confined to the container, and no mount is left on the host.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { requires } from "../_helpers/requires.ts";
import { collectLogs, tempEngine } from "./_engine.ts";

/** Every mount line any thread of this process (and the host's init) can see. */
function allMountinfo(): string {
  const tasks = fs.readdirSync("/proc/self/task");
  const views = tasks.map((t) => {
    try {
      return fs.readFileSync(`/proc/self/task/${t}/mountinfo`, "utf8");
    } catch {
      return ""; // thread gone meanwhile
    }
  });
  return [fs.readFileSync("/proc/1/mountinfo", "utf8"), ...views].join("");
}

Deno.test({
  name: "cp: created and exited containers, both directions, confined, no mount left",
  ...requires("root", "overlay"),
  async fn() {
    const t = await tempEngine();
    const hostDir = fs.mkdtempSync(path.join(Deno.env.get("TMPDIR") ?? "/tmp", "dts-cp-host-"));
    try {
      const e = t.engine;
      const before = fs.readFileSync("/proc/self/mountinfo", "utf8");

      // Created, never started: copy in, then the container sees the file when it runs.
      const { Id: id } = await e.create({
        image: "busybox",
        network: "none",
        name: "cps",
        cmd: [
          "sh",
          "-c",
          `cat /hello.txt; echo inside > /etc/hostmark; ln -s ../../../../../etc /escape; ` +
          `mkdir -p ${hostDir}; ln -s ${hostDir} /out`,
        ],
      });
      const src = path.join(hostDir, "hello.txt");
      fs.writeFileSync(src, "hello from host\n");
      await e.copyTo("cps", src, "/");
      assert.equal(fs.existsSync(path.join(t.root, "containers")), true);
      // The mount existed only in the Worker's namespace.
      assert.equal(fs.readFileSync("/proc/self/mountinfo", "utf8"), before);
      // A created container also copies out.
      await e.copyFrom("cps", "/hello.txt", path.join(hostDir, "back.txt"));
      assert.equal(fs.readFileSync(path.join(hostDir, "back.txt"), "utf8"), "hello from host\n");

      await e.start(id);
      assert.equal(await e.wait(id), 0);
      const logs = await collectLogs(e.logs(id, { stdout: true, stderr: true }));
      assert.equal(logs.stdout, "hello from host\n", logs.stderr);

      // Exited: copy out what the container wrote, through a symlink that must resolve inside.
      await e.copyFrom("cps", "/escape/hostmark", path.join(hostDir, "mark.txt"));
      assert.equal(fs.readFileSync(path.join(hostDir, "mark.txt"), "utf8"), "inside\n");
      // Copy in through an absolute symlink naming a host directory: lands in the container.
      fs.writeFileSync(path.join(hostDir, "x.txt"), "x\n");
      await e.copyTo("cps", path.join(hostDir, "x.txt"), "/out/");
      assert.equal(fs.existsSync(path.join(hostDir, "x.txt")), true);
      const upperCopy = path.join(t.root, "containers", id, "upper", hostDir, "x.txt");
      assert.equal(fs.readFileSync(upperCopy, "utf8"), "x\n");
      assert.deepEqual(fs.readdirSync(hostDir).sort(), [
        "back.txt",
        "hello.txt",
        "mark.txt",
        "x.txt",
      ]);

      // Errors keep their category.
      await assert.rejects(
        e.copyFrom("cps", "/nope", path.join(hostDir, "nope")),
        (err: Error & { kind?: string }) => {
          assert.equal(err.kind, "NotFound");
          assert.match(err.message, /Could not find the file \/nope/);
          return true;
        },
      );

      assert.equal(fs.readFileSync("/proc/self/mountinfo", "utf8"), before);
      assert.equal(allMountinfo().includes(path.join(t.root, "containers", id)), false);
    } finally {
      await t.cleanup();
      fs.rmSync(hostDir, { recursive: true, force: true });
    }
  },
});
