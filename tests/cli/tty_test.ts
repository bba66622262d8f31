/**
 * `run -it` on a real pseudo-terminal (util-linux `script` provides one): the CLI passes the
 * terminal's size, puts it in raw mode while the container runs, and restores it afterwards.
 */
import assert from "node:assert/strict";
import * as path from "node:path";

const CHILD = path.join(import.meta.dirname!, "_sig_proxy_child.ts");

function hasScript(): boolean {
  try {
    Deno.statSync("/usr/bin/script");
    return true;
  } catch {
    return false;
  }
}

Deno.test({
  name: "run -it: raw mode during the run, restored after, size passed",
  ignore: !hasScript(),
  async fn() {
    const inner = `stty rows 30 cols 100; echo before=$(stty -g); ` +
      `${Deno.execPath()} run -A --no-prompt ${CHILD} tty; echo code=$?; echo after=$(stty -g)`;
    const r = await new Deno.Command("/usr/bin/script", {
      args: ["-qec", inner, "/dev/null"],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(r.stdout).replaceAll("\r", "");
    const get = (k: string): string => new RegExp(`^${k}=(.*)$`, "m").exec(out)?.[1] ?? "";
    assert.match(out, /tty=true interactive=true size=\{"rows":30,"cols":100\}/, out);
    assert.equal(get("code"), "7", out);
    assert.notEqual(get("during"), get("before"), "terminal was not raw during the run");
    assert.equal(get("after"), get("before"), "terminal not restored");
  },
});
