/**
 * `docker-ts login`: store registry credentials (`-u`, `-p`, `--password-stdin`, or prompts on
 * a terminal).
 *
 * @module
 */
import type { Command } from "../command.ts";
import { bool, given } from "../command.ts";
import { CliError } from "../cli_error.ts";

async function readAll(stream: ReadableStream<Uint8Array>): Promise<string> {
  return await new Response(stream).text();
}

function readSecret(label: string): string {
  Deno.stdout.writeSync(new TextEncoder().encode(label));
  Deno.stdin.setRaw(true);
  try {
    const buf = new Uint8Array(1);
    const bytes: number[] = [];
    while (true) {
      const n = Deno.stdin.readSync(buf);
      if (n === null || n === 0 || buf[0] === 0x0d || buf[0] === 0x0a) break;
      if (buf[0] === 0x03) throw new CliError("login canceled");
      if (buf[0] === 0x7f) bytes.pop();
      else bytes.push(buf[0]);
    }
    return new TextDecoder().decode(new Uint8Array(bytes));
  } finally {
    Deno.stdin.setRaw(false);
    Deno.stdout.writeSync(new TextEncoder().encode("\n"));
  }
}

/** The `login` verb. */
export const command: Command = {
  name: "login",
  usage: "[OPTIONS] [SERVER]",
  description: "Authenticate to a registry.\nDefaults to Docker Hub if no server is specified.",
  flags: [
    {
      name: "password",
      short: "p",
      kind: "string",
      description: "Password or Personal Access Token (PAT)",
    },
    {
      name: "password-stdin",
      kind: "bool",
      description: "Take the Password or Personal Access Token (PAT) from stdin",
    },
    { name: "username", short: "u", kind: "string", description: "Username" },
  ],
  args: { max: 1 },
  async action(ctx, parsed): Promise<number> {
    const server = parsed.positionals[0];
    let username = given<string>(parsed, "username");
    let password = given<string>(parsed, "password");
    if (bool(parsed, "password-stdin")) {
      if (password !== undefined) {
        throw new CliError("--password and --password-stdin are mutually exclusive");
      }
      if (username === undefined) {
        throw new CliError("Must provide --username with --password-stdin");
      }
      password = (await readAll(ctx.io.stdin())).replace(/\r?\n$/, "");
    } else if (password !== undefined) {
      ctx.io.writeErr("WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n");
    }
    if (username === undefined || password === undefined) {
      if (!ctx.io.stdinIsTerminal()) {
        throw new CliError("Error: Cannot perform an interactive login from a non TTY device");
      }
      username ??= (prompt("Username:") ?? "").trim();
      password ??= readSecret("Password: ");
    }
    if (username === "") throw new CliError("Username is required");
    if (password === "") throw new CliError("Password is required");
    await (await ctx.engine()).login({ server, username, password });
    ctx.io.writeOut("Login Succeeded\n");
    return 0;
  },
};
