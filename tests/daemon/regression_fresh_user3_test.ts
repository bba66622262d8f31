/**
 * Regressions from a fresh-user pass with the docker CLI against the daemon:
 * - create with a missing network answered 404, which docker's CLI reads as "no such image"
 *   and goes to pull (from Docker Hub);
 * - ps listed containers created within one second in no particular order;
 * - ps's NETWORKS column was empty;
 * - a misspelt `--format` field printed "<no value>" where docker fails;
 * - `docker-ts version` described the in-process engine while a daemon served the CLI;
 * - every removed container left its lock files behind.
 * Root, overlay, cgroup v1; temp roots.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { requires } from "../_helpers/requires.ts";
import { startTestDaemon } from "./api_harness.ts";

Deno.test({
  name: "regression: missing network, ps order and networks, template errors, version, locks",
  ...requires("root", "overlay", "cgroup-v1"),
  async fn() {
    const d = await startTestDaemon();
    // d.cli runs the engine in-process on the daemon's roots; this goes through the daemon.
    const viaDaemon = (args: string[]) => d.cli(["-H", `unix://${d.socket}`, ...args]);
    try {
      // A missing network is a bad request, never a missing image.
      for (const args of [["create"], ["run", "--rm"]]) {
        const r = await d.docker([...args, "--network", "nosuchnet", "busybox", "true"]);
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, /Network "nosuchnet" not found/);
        assert.doesNotMatch(r.stderr, /Unable to find image|pull/i, r.stderr);
      }
      const peer = await d.docker(["create", "--network", "container:nosuch", "busybox", "true"]);
      assert.notEqual(peer.code, 0);
      assert.match(peer.stderr, /No such container: nosuch/);
      assert.doesNotMatch(peer.stderr, /Unable to find image|pull/i, peer.stderr);
      const viaCli = await d.cli(["run", "--rm", "--network", "nosuchnet", "busybox", "true"]);
      assert.equal(viaCli.code, 125);
      assert.equal(viaCli.stderr, 'docker-ts: Network "nosuchnet" not found\n');

      // Newest first, even within one second.
      for (const name of ["ord1", "ord2", "ord3"]) {
        assert.equal((await viaDaemon(["create", "--name", name, "busybox", "true"])).code, 0);
      }
      const order = await d.docker(["ps", "-a", "--format", "{{.Names}}"]);
      assert.equal(order.stdout, "ord3\nord2\nord1\n");
      assert.equal((await viaDaemon(["ps", "-a", "--format", "{{.Names}}"])).stdout, order.stdout);

      // NETWORKS names the container's network, running or not.
      assert.equal(
        (await d.cli(["run", "-d", "--name", "nh", "--network", "host", "busybox", "sleep", "60"]))
          .code,
        0,
      );
      assert.equal(
        (await d.docker(["ps", "-a", "--filter", "name=nh", "--format", "{{.Networks}}"])).stdout,
        "host\n",
      );
      assert.equal(
        (await d.cli(["ps", "-a", "--filter", "name=ord1", "--format", "{{.Networks}}"])).stdout,
        "none\n",
      );

      // A field docker's types do not have fails, as docker's CLI fails; user maps do not.
      const psBad = await d.cli(["ps", "-a", "--format", "{{.Nope}}"]);
      assert.equal(psBad.code, 1);
      assert.match(psBad.stderr, /can't evaluate field Nope/);
      const inspBad = await d.cli(["inspect", "-f", "{{.State.Nope}}", "nh"]);
      assert.equal(inspBad.code, 1);
      assert.match(inspBad.stderr, /map has no entry for key "Nope"/);
      const labels = await d.cli([
        "inspect",
        "-f",
        "{{.Config.Labels.nope}}|{{.State.Status}}",
        "nh",
      ]);
      assert.deepEqual([labels.code, labels.stdout], [0, "<no value>|running\n"]);

      // docker's `{{.Label "key"}}` method, its column headed by the key's last dotted part.
      const lab = await viaDaemon([
        "run",
        "-d",
        "--name",
        "lab",
        "--label",
        "org.ex-ample=yes",
        "busybox",
        "sleep",
        "60",
      ]);
      assert.equal(lab.code, 0, lab.stderr);
      const table = 'table {{.Names}}\t{{.Label "org.ex-ample"}}|{{.Label "nope"}}|';
      const want = "NAMES     ex ample|nope|\nlab       yes||\n";
      const byCli = await viaDaemon(["ps", "--filter", "name=lab", "--format", table]);
      assert.equal(byCli.stdout, want, byCli.stderr);
      assert.equal(
        (await d.docker(["ps", "--filter", "name=lab", "--format", table])).stdout,
        want,
      );
      const json = await viaDaemon(["ps", "--filter", "name=lab", "--format", "{{json .}}"]);
      assert.doesNotMatch(json.stdout, /"Label"/);
      assert.equal((await viaDaemon(["rm", "-f", "lab"])).code, 0);

      // The server `version` describes is the daemon.
      const v = await viaDaemon(["version"]);
      assert.equal(v.code, 0, v.stderr);
      assert.match(v.stdout, /^Server: docker-ts$/m);
      assert.doesNotMatch(v.stdout, /in-process/);

      // Nothing of a removed container stays in the locks directory.
      const id = (await d.cli(["inspect", "-f", "{{.Id}}", "nh"])).stdout.trim();
      assert.equal((await d.cli(["rm", "-f", "nh", "ord1", "ord2", "ord3"])).code, 0);
      assert.equal((await d.cli(["run", "--rm", "busybox", "true"])).code, 0);
      const locks = [...Deno.readDirSync(path.join(d.runroot, "locks"))].map((e) => e.name);
      assert.deepEqual(locks.filter((n) => n.startsWith(id)), []);
      assert.deepEqual(locks.filter((n) => /^[0-9a-f]{64}\./.test(n)), [], locks.join(" "));
    } finally {
      await d.stop();
    }
  },
});
