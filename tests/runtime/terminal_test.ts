import assert from "node:assert/strict";
import { requires } from "../_helpers/requires.ts";
import { spawn } from "../_helpers/spawn.ts";
import { Pty } from "../../src/runtime/pty.ts";
import { readableFromFd } from "../../src/runtime/stdio.ts";
import { reaper } from "../../src/runtime/reaper.ts";
import { kill } from "../../ffi/wait.ts";
import { tcgetattr } from "../../ffi/pty.ts";

const root = new URL("../../", import.meta.url).href;
const ICANON = 0x2;
const ECHO = 0x8;

function lflag(termios: Uint8Array): number {
  return new DataView(termios.buffer).getUint32(12, true);
}

const SCRIPT = `
import { enterRawMode, terminalSize } from "${root}src/runtime/terminal.ts";
const mode = Deno.args[0];
const raw = enterRawMode();
const size = terminalSize();
console.log("RAW " + size.rows + "x" + size.cols);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
if (mode === "using") { await sleep(100); raw.restore(); console.log("DONE"); }
else if (mode === "forgot") { await sleep(100); }
else if (mode === "exit") { await sleep(100); Deno.exit(3); }
else if (mode === "throw") { setTimeout(() => { throw new Error("boom"); }, 100); }
else if (mode === "reject") { await sleep(100); Promise.reject(new Error("nope")); }
else if (mode === "signal") { setTimeout(() => {}, 10000); }
`;

/** Runs the script under a real pty and returns [termios before, during, after, exit code]. */
async function underPty(mode: string): Promise<{
  before: Uint8Array;
  during: Uint8Array;
  after: Uint8Array;
  exitCode: number;
  output: string;
}> {
  const file = await Deno.makeTempFile({ suffix: ".ts" });
  await Deno.writeTextFile(file, SCRIPT);
  const pty = Pty.open({ rows: 40, cols: 120 });
  const before = tcgetattr(pty.slaveFd);
  let pid = -1;
  const out = readableFromFd(pty.master.retain(), { eioIsEof: true });
  const reader = out.getReader();
  try {
    pid = spawn({
      argv: [Deno.execPath(), "run", "-A", "--no-prompt", file, mode],
      env: ["PATH=/usr/bin:/bin", "NO_COLOR=1", `HOME=${Deno.env.get("HOME") ?? "/root"}`],
      ttyPath: pty.slavePath,
    });
    const exited = reaper().watch(pid);
    let output = "";
    while (!/RAW/.test(output)) {
      const { value, done } = await reader.read();
      if (done) break;
      output += new TextDecoder().decode(value);
    }
    const during = tcgetattr(pty.slaveFd);
    if (mode === "signal") kill(pid, 15);
    const { exitCode } = await exited;
    pid = -1;
    const after = tcgetattr(pty.slaveFd);
    return { before, during, after, exitCode, output };
  } finally {
    if (pid > 0) {
      kill(pid, 9);
      await reaper().watch(pid);
    }
    await reader.cancel();
    pty.close();
    await Deno.remove(file);
  }
}

for (
  const [mode, code] of [
    ["using", 0],
    ["forgot", 0],
    ["exit", 3],
    ["throw", 1],
    ["reject", 1],
    ["signal", 143],
  ] as const
) {
  Deno.test({
    name: `terminal: raw mode is restored on exit path "${mode}"`,
    ...requires("root"),
    async fn() {
      const r = await underPty(mode);
      assert.match(r.output, /RAW 40x120/);
      assert.equal(lflag(r.during) & (ICANON | ECHO), 0, "raw mode was not entered");
      assert.notEqual(lflag(r.before) & ICANON, 0);
      assert.equal(r.exitCode, code, r.output);
      assert.deepEqual(r.after, r.before, "terminal attributes not restored");
    },
  });
}

Deno.test("terminal: without a terminal, -t fails with Docker's message", async () => {
  const file = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    await Deno.writeTextFile(
      file,
      `import { enterRawMode, isTerminal, requireTerminal } from "${root}src/runtime/terminal.ts";
       const errs = [];
       for (const fn of [requireTerminal, enterRawMode]) {
         try { fn(); } catch (e) { errs.push(e.name + ": " + e.message); }
       }
       console.log(JSON.stringify({ tty: isTerminal(), errs }));`,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--no-prompt", file],
      stdin: "null",
    }).output();
    assert.deepEqual(JSON.parse(new TextDecoder().decode(out.stdout)), {
      tty: false,
      errs: [
        "InvalidArgumentError: the input device is not a TTY",
        "InvalidArgumentError: the input device is not a TTY",
      ],
    });
  } finally {
    await Deno.remove(file);
  }
});
