/**
 * Child process for sig_proxy_test.ts: runs the CLI's `run` against a fake engine whose
 * container "runs" until it is killed (mode "created") or whose create never finishes until
 * the run is aborted (mode "creating"). Prints `ready` once a signal can be sent.
 */
import { fakeEngine } from "./_fake.ts";
import { main } from "../../src/cli/main.ts";

const mode = Deno.args[0];
const say = (text: string): void => {
  Deno.stdout.writeSync(new TextEncoder().encode(text + "\n"));
};
const engine = fakeEngine({
  run(opts, io) {
    if (mode === "tty") {
      // Report what the CLI set up: the pty size it passed and whether the terminal is raw now.
      const raw = new Deno.Command("stty", { args: ["-g"], stdin: "inherit" }).outputSync();
      say(
        `tty=${opts.tty} interactive=${opts.interactive} size=${JSON.stringify(io?.consoleSize)}`,
      );
      say(`during=${new TextDecoder().decode(raw.stdout).trim()}`);
      return Promise.resolve(7);
    }
    if (mode === "creating") {
      say("ready");
      return new Promise((_resolve, reject) => {
        io?.signal?.addEventListener("abort", () => {
          say("aborted");
          reject(io.signal!.reason);
        });
      });
    }
    io?.onCreated?.("c".repeat(64));
    return new Promise((resolve) => {
      engine.kill = (_id, sig) => {
        say(`killed ${sig}`);
        resolve(128 + (sig === "SIGTERM" ? 15 : sig === "SIGUSR2" ? 12 : 2));
        return Promise.resolve();
      };
      say("ready");
    });
  },
});
const flags = mode === "tty" ? ["-it"] : [];
Deno.exit(await main(["run", ...flags, "--pull", "never", "busybox"], { engine }));
