/**
 * `docker-ts info`: a basic system summary, or a `--format` template over it.
 *
 * @module
 */
import { lazyImport } from "../../util/lazy_import.ts";
import type { Command } from "../command.ts";
import { str } from "../command.ts";
import { renderTemplate } from "../go_template.ts";
import { unescapeFormat } from "../table.ts";
import { humanSize } from "../units.ts";

function cgroupVersion(): "1" | "2" {
  try {
    Deno.statSync("/sys/fs/cgroup/cgroup.controllers");
    return "2";
  } catch {
    return "1";
  }
}

/** Docker's `SecurityOptions`: seccomp with the builtin profile when the kernel has filters. */
function securityOptions(): string[] {
  const out: string[] = [];
  try {
    if (/^Seccomp:\s*\d/m.test(Deno.readTextFileSync("/proc/self/status"))) {
      out.push("name=seccomp,profile=builtin");
    }
  } catch {
    // no /proc: report nothing rather than guess
  }
  out.push("name=cgroupns");
  return out;
}

function osName(): string {
  try {
    const text = Deno.readTextFileSync("/etc/os-release");
    return /^PRETTY_NAME="?([^"\n]*)"?/m.exec(text)?.[1] ?? Deno.build.os;
  } catch {
    return Deno.build.os;
  }
}

/** The `info` verb. */
export const command: Command = {
  name: "info",
  usage: "[OPTIONS]",
  description: "Display system-wide information",
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
    const engine = await ctx.engine();
    const [containers, images] = await Promise.all([
      engine.list({ all: true }),
      engine.listImages(),
    ]);
    const count = (s: string): number => containers.filter((c) => c.State === s).length;
    const mem = Deno.systemMemoryInfo().total;
    const info = {
      Containers: containers.length,
      ContainersRunning: count("running"),
      ContainersPaused: count("paused"),
      ContainersStopped: containers.length - count("running") - count("paused"),
      Images: images.length,
      ServerVersion: VERSION,
      Driver: "overlay2",
      CgroupDriver: "cgroupfs",
      CgroupVersion: cgroupVersion(),
      KernelVersion: Deno.osRelease(),
      OperatingSystem: osName(),
      OSType: Deno.build.os,
      Architecture: Deno.build.arch,
      NCPU: navigator.hardwareConcurrency,
      MemTotal: mem,
      Name: Deno.hostname(),
      DockerRootDir: ctx.root,
      LoggingDriver: "json-file",
      SecurityOptions: securityOptions(),
    };
    const format = str(parsed, "format");
    if (format) {
      ctx.io.writeOut(
        (format === "json" ? JSON.stringify(info) : renderTemplate(unescapeFormat(format), info)) +
          "\n",
      );
      return 0;
    }
    ctx.io.writeOut(
      [
        "Server:",
        ` Containers: ${info.Containers}`,
        `  Running: ${info.ContainersRunning}`,
        `  Paused: ${info.ContainersPaused}`,
        `  Stopped: ${info.ContainersStopped}`,
        ` Images: ${info.Images}`,
        ` Server Version: ${info.ServerVersion}`,
        ` Storage Driver: ${info.Driver}`,
        ` Logging Driver: ${info.LoggingDriver}`,
        ` Cgroup Driver: ${info.CgroupDriver}`,
        ` Cgroup Version: ${info.CgroupVersion}`,
        " Security Options:",
        ...info.SecurityOptions.flatMap((o) => {
          const [name, ...kv] = o.split(",").map((p) => p.replace(/^name=/, ""));
          return [
            `  ${name}`,
            ...kv.map((p) => `   ${p[0].toUpperCase()}${p.slice(1).replace("=", ": ")}`),
          ];
        }),
        ` Kernel Version: ${info.KernelVersion}`,
        ` Operating System: ${info.OperatingSystem}`,
        ` OSType: ${info.OSType}`,
        ` Architecture: ${info.Architecture}`,
        ` CPUs: ${info.NCPU}`,
        ` Total Memory: ${humanSize(mem)}`,
        ` Name: ${info.Name}`,
        ` Docker Root Dir: ${info.DockerRootDir}`,
        "",
      ].join("\n"),
    );
    return 0;
  },
};
