/**
 * `docker-ts version`: client (and in-process engine) versions, or a `--format` template.
 *
 * @module
 */
import { lazyImport } from "../../util/lazy_import.ts";
import type { Command } from "../command.ts";
import { str } from "../command.ts";
import { renderTemplate } from "../go_template.ts";
import { unescapeFormat } from "../table.ts";
import { daemonClient } from "../context.ts";

/** The API version docker-ts speaks. */
export const API_VERSION = "1.41";

function arch(): string {
  return ({ x86_64: "amd64", aarch64: "arm64" } as Record<string, string>)[Deno.build.arch] ??
    Deno.build.arch;
}

/** The `version` verb. */
export const command: Command = {
  name: "version",
  usage: "[OPTIONS]",
  description: "Show the docker-ts version information",
  flags: [
    {
      name: "format",
      short: "f",
      kind: "string",
      description: "Format output using a custom template",
    },
  ],
  args: { max: 0 },
  async action(ctx, parsed): Promise<number> {
    const { VERSION } = await lazyImport<typeof import("../main.ts")>(
      new URL("../main.ts", import.meta.url),
    );
    const osArch = `${Deno.build.os}/${arch()}`;
    const component = {
      Version: VERSION,
      ApiVersion: API_VERSION,
      DenoVersion: Deno.version.deno,
      V8Version: Deno.version.v8,
      Os: Deno.build.os,
      Arch: arch(),
    };
    // The server is the daemon when one serves this CLI (as docker asks dockerd), else the
    // engine this process would run in-process.
    const client = await daemonClient(ctx);
    let server: {
      Version: string;
      ApiVersion: string;
      Os: string;
      Arch: string;
      KernelVersion: string;
    };
    let serverName = "docker-ts (in-process engine)";
    if (client) {
      const v = await client.serverVersion();
      server = v;
      serverName = v.Platform?.Name ?? "docker-ts";
    } else {
      server = { ...component, KernelVersion: kernel() };
    }
    const data = { Client: component, Server: server };
    const format = str(parsed, "format");
    if (format) {
      ctx.io.writeOut(
        (format === "json" ? JSON.stringify(data) : renderTemplate(unescapeFormat(format), data)) +
          "\n",
      );
      return 0;
    }
    const row = (k: string, v: string): string => ` ${(k + ":").padEnd(18)}${v}\n`;
    ctx.io.writeOut(
      "Client:\n" + row("Version", VERSION) + row("API version", API_VERSION) +
        row("Deno version", Deno.version.deno) + row("OS/Arch", osArch) +
        `\nServer: ${serverName}\n Engine:\n` +
        ("  " + row("Version", server.Version).trimStart()) +
        ("  " + row("API version", server.ApiVersion).trimStart()) +
        ("  " + row("OS/Arch", `${server.Os}/${server.Arch}`).trimStart()) +
        ("  " + row("Kernel Version", server.KernelVersion).trimStart()),
    );
    return 0;
  },
};

function kernel(): string {
  try {
    return Deno.osRelease();
  } catch {
    return "unknown";
  }
}
