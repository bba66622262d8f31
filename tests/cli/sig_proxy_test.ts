/**
 * docker's sig-proxy: signals the CLI receives go to the container (via EngineApi.kill) once it
 * exists; before that they abort the run and the CLI exits 128+N.
 */
import assert from "node:assert/strict";
import * as path from "node:path";

const CHILD = path.join(import.meta.dirname!, "_sig_proxy_child.ts");

async function runChild(
  mode: string,
  signal: Deno.Signal,
): Promise<{ code: number; out: string; err: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-prompt", CHILD, mode],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  while (!out.includes("ready\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    out += value;
  }
  child.kill(signal);
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    out += value;
  }
  const status = await child.status;
  const err = await new Response(child.stderr).text();
  return { code: status.code, out, err };
}

Deno.test("sig-proxy: SIGTERM and SIGUSR2 are forwarded to the running container", async () => {
  const term = await runChild("created", "SIGTERM");
  assert.equal(term.out, "ready\nkilled SIGTERM\n", term.err);
  assert.equal(term.code, 143);
  const usr2 = await runChild("created", "SIGUSR2");
  assert.equal(usr2.out, "ready\nkilled SIGUSR2\n", usr2.err);
  assert.equal(usr2.code, 140);
});

Deno.test("sig-proxy: a signal before the container exists aborts the run, exit 128+N", async () => {
  const r = await runChild("creating", "SIGINT");
  assert.equal(r.out, "ready\naborted\n", r.err);
  assert.equal(r.code, 130);
  assert.equal(r.err, "");
});
