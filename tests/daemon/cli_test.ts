/**
 * The lifecycle verbs through the docker-ts CLI (in-process engine, no daemon): run -d prints
 * the full id and returns while the container keeps running; ps, logs, exec, top, stats,
 * pause/unpause, rename, port, cp both ways (with a symlink-escape attempt), stop, kill,
 * restart, container prune, rm.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { requires } from "../_helpers/requires.ts";
import { tempEngine } from "./_engine.ts";

const needs = requires("root", "overlay", "cgroup-v1");
const MOD = path.join(import.meta.dirname!, "../../mod.ts");

Deno.test({
  name: "cli: detached lifecycle verbs",
  ...needs,
  async fn() {
    const t = await tempEngine();
    const cli = async (...args: string[]): Promise<{ code: number; out: string; err: string }> => {
      const r = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", MOD, "--root", t.root, "--runroot", t.runroot, ...args],
        stdin: "null",
      }).output();
      return {
        code: r.code,
        out: new TextDecoder().decode(r.stdout),
        err: new TextDecoder().decode(r.stderr),
      };
    };
    try {
      const run = await cli(
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        "web",
        "busybox",
        "sh",
        "-c",
        "echo hello; echo oops >&2; exec sleep 600",
      );
      assert.equal(run.code, 0, run.err);
      const id = run.out.trim();
      assert.match(id, /^[0-9a-f]{64}$/);

      const ps = await cli("ps");
      assert.match(ps.out, /^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES\n/);
      assert.match(ps.out, new RegExp(`${id.slice(0, 12)}\\s+busybox\\s+.*Up .*web\\n`));
      assert.equal((await cli("ps", "-q", "--no-trunc")).out, `${id}\n`);

      const logs = await cli("logs", "web");
      assert.equal(logs.out, "hello\n");
      assert.equal(logs.err, "oops\n");
      const ts = await cli("logs", "-t", "--tail", "1", "web");
      assert.match(ts.out + ts.err, /^\d{4}-\d\d-\d\dT[\d:.]+Z (hello|oops)\n$/);

      const ex = await cli("exec", "-e", "A=b", "-w", "/tmp", "web", "sh", "-c", "echo $A $(pwd)");
      assert.equal(ex.out, "b /tmp\n");
      assert.equal((await cli("exec", "web", "sh", "-c", "exit 5")).code, 5);
      const nf = await cli("exec", "web", "nosuch");
      assert.equal(nf.code, 127);
      assert.match(nf.err, /executable file not found/);

      const top = await cli("top", "web");
      assert.match(top.out, /^UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD\n.*sleep 600/s);
      const stats = await cli("stats", "--no-stream", "web");
      assert.match(stats.out, /^CONTAINER ID\s+NAME\s+CPU %\s+MEM USAGE \/ LIMIT\s+MEM %/);
      assert.match(
        stats.out,
        /web\s+\d+\.\d\d%\s+[\d.]+\w*B \/ [\d.]+\w*B\s+[\d.]+%\s+0B \/ 0B\s+0B \/ 0B\s+1\n/,
      );

      assert.equal((await cli("pause", "web")).out, "web\n");
      assert.match((await cli("ps")).out, /Up .*\(Paused\)/);
      const pausedExec = await cli("exec", "web", "true");
      assert.notEqual(pausedExec.code, 0);
      assert.match(pausedExec.err, /paused/);
      assert.equal((await cli("unpause", "web")).out, "web\n");

      assert.equal((await cli("rename", "web", "web2")).code, 0);
      assert.equal((await cli("port", "web2")).out, "");

      // cp both ways, and a symlink that points out of the container stays inside it.
      const hostFile = path.join(t.dir, "in.txt");
      fs.writeFileSync(hostFile, "from host\n");
      assert.equal((await cli("cp", hostFile, "web2:/tmp/in.txt")).code, 0);
      assert.equal((await cli("exec", "web2", "cat", "/tmp/in.txt")).out, "from host\n");
      await cli(
        "exec",
        "web2",
        "sh",
        "-c",
        "mkdir /tmp/d && echo x > /tmp/d/f && ln -s / /tmp/escape",
      );
      const outDir = path.join(t.dir, "out");
      assert.equal((await cli("cp", "web2:/tmp/d", outDir)).code, 0);
      assert.equal(fs.readFileSync(path.join(outDir, "f"), "utf8"), "x\n");
      const hn = path.join(t.dir, "hostname");
      assert.equal((await cli("cp", "web2:/tmp/escape/etc/hostname", hn)).code, 0);
      assert.equal(fs.readFileSync(hn, "utf8"), `${id.slice(0, 12)}\n`);
      const marker = `/tmp/dts-escape-${crypto.randomUUID()}`;
      assert.equal((await cli("cp", hostFile, `web2:/tmp/escape${marker}`)).code, 0);
      assert.ok(!fs.existsSync(marker), "cp wrote outside the container");
      assert.equal((await cli("exec", "web2", "cat", marker)).out, "from host\n");

      const restart = await cli("restart", "-t", "1", "web2");
      assert.equal(restart.out, "web2\n");
      assert.equal((await cli("logs", "web2")).out, "hello\nhello\n");
      assert.equal((await cli("kill", "web2")).out, "web2\n");
      assert.match((await cli("ps", "-a")).out, /Exited \(137\)/);
      assert.equal((await cli("start", "web2")).code, 0);
      const stop = await cli("stop", "-t", "1", "web2");
      assert.equal(stop.out, "web2\n");
      assert.equal(
        (await cli("ps", "-a", "--filter", "exited=137", "-q")).out.trim(),
        id.slice(0, 12),
      );

      const prune = await cli("container", "prune", "-f");
      assert.match(
        prune.out,
        new RegExp(`^Deleted Containers:\\n${id}\\n\\nTotal reclaimed space: `),
      );
      assert.equal((await cli("ps", "-a", "-q")).out, "");
      const missing = await cli("logs", "web2");
      assert.equal(missing.code, 1);
      assert.match(missing.err, /No such container: web2/);
    } finally {
      await t.cleanup();
    }
  },
});
