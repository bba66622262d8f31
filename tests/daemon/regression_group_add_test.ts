/**
 * Regression (fresh-user pass): `--group-add` was an unknown flag. Docker adds the groups (names
 * from the image's /etc/group, or any gid) to the container's process and to every exec, and
 * shows them as HostConfig.GroupAdd; through the docker CLI as well.
 */
import assert from "node:assert/strict";
import { requires } from "../_helpers/requires.ts";
import { startTestDaemon } from "./api_harness.ts";

Deno.test({
  name: "regression: --group-add on run, exec and inspect, through docker-ts and the docker CLI",
  ...requires("root", "overlay", "cgroup-v1"),
  async fn() {
    const d = await startTestDaemon();
    try {
      const run = await d.cli([
        "run",
        "--rm",
        "-u",
        "1000:1000",
        "--group-add",
        "5",
        "--group-add",
        "staff",
        "busybox",
        "id",
        "-G",
      ]);
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(run.stdout.trim().split(" ").map(Number).sort((a, b) => a - b), [
        5,
        50,
        1000,
      ]);

      const bad = await d.cli(["run", "--rm", "--group-add", "nosuch", "busybox", "true"]);
      assert.equal(bad.code, 125);
      assert.equal(
        bad.stderr,
        "docker-ts: Unable to find group nosuch: no matching entries in group file\n",
      );

      const bg = await d.cli([
        "run",
        "-d",
        "--name",
        "ga",
        "--group-add",
        "4242",
        "busybox",
        "sleep",
        "60",
      ]);
      assert.equal(bg.code, 0, bg.stderr);
      assert.equal((await d.cli(["exec", "ga", "id", "-G"])).stdout, "0 4242\n");
      assert.equal(
        (await d.cli(["exec", "-u", "1000", "ga", "id", "-G"])).stdout,
        "1000 50 4242\n",
      );
      const ins = await d.cli(["inspect", "-f", "{{json .HostConfig.GroupAdd}}", "ga"]);
      assert.equal(ins.stdout, '["4242"]\n');

      const viaDocker = await d.docker(["run", "--rm", "--group-add", "7", "busybox", "id", "-G"]);
      assert.equal(viaDocker.code, 0, viaDocker.stderr);
      assert.equal(viaDocker.stdout, "0 7\n");
      assert.equal((await d.cli(["rm", "-f", "ga"])).code, 0);
    } finally {
      await d.stop();
    }
  },
});
