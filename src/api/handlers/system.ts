/**
 * System endpoints: `_ping` (GET and HEAD), `version`, `info`, `events`, `auth`.
 *
 * @module
 */
import * as fs from "node:fs";
import { createHash } from "node:crypto";
import { API_VERSION, MIN_API_VERSION } from "../router.ts";
import {
  type ApiContext,
  type ApiEvent,
  type ApiRequest,
  type RouteTable,
  sendJson,
} from "./_common.ts";
import type { ResponseWriter } from "../http_server.ts";
import { checkFilterNames, type Filters, parseFilters } from "../filters.ts";

function kernelVersion(): string {
  try {
    return Deno.osRelease();
  } catch {
    return "";
  }
}

function operatingSystem(): string {
  try {
    const text = fs.readFileSync("/etc/os-release", "utf8");
    const m = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(text);
    return m?.[1] ?? "Linux";
  } catch {
    return "Linux";
  }
}

function goArch(): string {
  return Deno.build.arch === "x86_64" ? "amd64" : Deno.build.arch === "aarch64" ? "arm64" : "";
}

function cgroupVersion(): "1" | "2" {
  return fs.existsSync("/sys/fs/cgroup/cgroup.controllers") ? "2" : "1";
}

function memTotal(): number {
  try {
    return Deno.systemMemoryInfo().total;
  } catch {
    return 0;
  }
}

function hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "localhost";
  }
}

async function ping(req: ApiRequest, res: ResponseWriter): Promise<void> {
  const headers = {
    "Content-Type": "text/plain; charset=utf-8",
    "Cache-Control": "no-cache, no-store, must-revalidate",
    Pragma: "no-cache",
  };
  // HEAD answers with an explicit zero length (the CLI's negotiation reads only headers).
  await res.send(200, req.http.method === "HEAD" ? "" : "OK", headers);
}

async function version(_req: ApiRequest, res: ResponseWriter, ctx: ApiContext): Promise<void> {
  const v = ctx.daemon.version;
  const details = {
    ApiVersion: API_VERSION,
    MinAPIVersion: MIN_API_VERSION,
    GitCommit: "",
    GoVersion: `deno${Deno.version.deno}`,
    Os: "linux",
    Arch: goArch(),
    KernelVersion: kernelVersion(),
    BuildTime: "",
    Experimental: "false",
  };
  await sendJson(res, 200, {
    Platform: { Name: "docker-ts" },
    Components: [{ Name: "Engine", Version: v, Details: details }],
    Version: v,
    ApiVersion: API_VERSION,
    MinAPIVersion: MIN_API_VERSION,
    GitCommit: "",
    GoVersion: details.GoVersion,
    Os: "linux",
    Arch: details.Arch,
    KernelVersion: details.KernelVersion,
    BuildTime: "",
  });
}

async function info(_req: ApiRequest, res: ResponseWriter, ctx: ApiContext): Promise<void> {
  const [containers, images] = await Promise.all([
    ctx.engine.list({ all: true }),
    ctx.engine.listImages().catch(() => []),
  ]);
  const count = (s: string) => containers.filter((c) => c.State === s).length;
  const running = count("running");
  const paused = count("paused");
  await sendJson(res, 200, {
    ID: createHash("sha256").update(`${hostname()}:${ctx.daemon.root}`).digest("hex").slice(0, 32)
      .toUpperCase().replace(/(.{4})(?!$)/g, "$1:"),
    Containers: containers.length,
    ContainersRunning: running,
    ContainersPaused: paused,
    ContainersStopped: containers.length - running - paused,
    Images: images.length,
    Driver: "overlay2",
    DriverStatus: [["Backing Filesystem", "extfs"], ["Supports d_type", "true"]],
    Plugins: { Volume: [], Network: ["host", "none"], Authorization: null, Log: ["json-file"] },
    MemoryLimit: true,
    SwapLimit: true,
    CpuCfsPeriod: true,
    CpuCfsQuota: true,
    CPUShares: true,
    CPUSet: true,
    PidsLimit: true,
    IPv4Forwarding: true,
    Debug: false,
    NFd: 0,
    NGoroutines: 0,
    SystemTime: new Date().toISOString(),
    LoggingDriver: "json-file",
    CgroupDriver: "cgroupfs",
    CgroupVersion: cgroupVersion(),
    NEventsListener: 0,
    KernelVersion: kernelVersion(),
    OperatingSystem: operatingSystem(),
    OSVersion: "",
    OSType: "linux",
    Architecture: Deno.build.arch,
    IndexServerAddress: "https://index.docker.io/v1/",
    RegistryConfig: {
      AllowNondistributableArtifactsCIDRs: [],
      AllowNondistributableArtifactsHostnames: [],
      InsecureRegistryCIDRs: ["127.0.0.0/8"],
      IndexConfigs: {
        "docker.io": { Name: "docker.io", Mirrors: [], Secure: true, Official: true },
      },
      Mirrors: [],
    },
    NCPU: navigator.hardwareConcurrency || 1,
    MemTotal: memTotal(),
    GenericResources: null,
    DockerRootDir: ctx.daemon.root,
    HttpProxy: "",
    HttpsProxy: "",
    NoProxy: "",
    Name: hostname(),
    Labels: [],
    ExperimentalBuild: false,
    ServerVersion: ctx.daemon.version,
    Runtimes: { "docker-ts": { path: "docker-ts" } },
    DefaultRuntime: "docker-ts",
    Swarm: {
      NodeID: "",
      NodeAddr: "",
      LocalNodeState: "inactive",
      ControlAvailable: false,
      Error: "",
      RemoteManagers: null,
    },
    LiveRestoreEnabled: false,
    Isolation: "",
    InitBinary: "",
    ContainerdCommit: { ID: "", Expected: "" },
    RuncCommit: { ID: "", Expected: "" },
    InitCommit: { ID: "", Expected: "" },
    SecurityOptions: ["name=seccomp,profile=default"],
    Warnings: null,
  });
}

/** `since`/`until`: unix seconds (possibly fractional) or RFC 3339 → nanoseconds. */
function timeParam(v: string | null): number | undefined {
  if (v === null || v === "") return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1e9);
  const ms = Date.parse(v);
  return Number.isNaN(ms) ? undefined : ms * 1e6;
}

function eventMatches(e: ApiEvent, f: Filters): boolean {
  const test = (name: string, value: string | undefined): boolean => {
    const want = f.get(name);
    return !want || want.length === 0 || (value !== undefined && want.includes(value));
  };
  if (!test("type", e.Type) || !test("event", e.Action)) return false;
  const c = f.get("container");
  if (
    c?.length && !(e.Type === "container" &&
      c.some((x) => e.Actor.ID.startsWith(x) || e.Actor.Attributes.name === x))
  ) return false;
  const im = f.get("image");
  if (im?.length && !im.some((x) => e.Actor.Attributes.image === x || e.Actor.ID === x)) {
    return false;
  }
  const labels = f.get("label");
  if (labels?.length) {
    for (const l of labels) {
      const eq = l.indexOf("=");
      const k = eq < 0 ? l : l.slice(0, eq);
      if (!(k in e.Actor.Attributes)) return false;
      if (eq >= 0 && e.Actor.Attributes[k] !== l.slice(eq + 1)) return false;
    }
  }
  return true;
}

/**
 * `GET /events`: events of actions performed through this server (the engine has no event
 * feed of its own yet), replayed from `since`, streamed until `until` or the client leaves.
 */
async function events(req: ApiRequest, res: ResponseWriter, ctx: ApiContext): Promise<void> {
  const filters = parseFilters(req.query.get("filters"));
  checkFilterNames(filters, ["type", "event", "container", "image", "label"]);
  const since = timeParam(req.query.get("since"));
  const until = timeParam(req.query.get("until"));
  const out = await res.stream(200, { "Content-Type": "application/json" });
  const queue: ApiEvent[] = [];
  let wake: (() => void) | undefined;
  const unsubscribe = ctx.events.subscribe((e) => {
    queue.push(e);
    wake?.();
  });
  try {
    if (since !== undefined) {
      for (const e of ctx.events.since(since)) {
        if ((until === undefined || e.timeNano <= until) && eventMatches(e, filters)) {
          await out.write(JSON.stringify(e) + "\n");
        }
      }
    }
    const signal = req.http.signal;
    const deadline = until === undefined ? Infinity : until / 1e6;
    while (!signal.aborted && Date.now() <= deadline) {
      while (queue.length) {
        const e = queue.shift()!;
        if (eventMatches(e, filters)) await out.write(JSON.stringify(e) + "\n");
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        const t = deadline === Infinity ? undefined : setTimeout(resolve, deadline - Date.now());
        signal.addEventListener("abort", () => {
          clearTimeout(t);
          resolve();
        }, { once: true });
      });
      wake = undefined;
    }
    if (!signal.aborted) await out.end();
  } finally {
    unsubscribe();
  }
}

async function auth(req: ApiRequest, res: ResponseWriter, ctx: ApiContext): Promise<void> {
  const body = (await req.json() ?? {}) as Record<string, unknown>;
  await ctx.engine.login({
    server: typeof body.serveraddress === "string" && body.serveraddress
      ? body.serveraddress
      : undefined,
    username: String(body.username ?? ""),
    password: String(body.password ?? ""),
  });
  await sendJson(res, 200, { Status: "Login Succeeded", IdentityToken: "" });
}

/** Registers the system routes. */
export function registerSystem(r: RouteTable): void {
  r.add("GET", "/_ping", ping);
  r.add("HEAD", "/_ping", ping);
  r.add("GET", "/version", version);
  r.add("GET", "/info", info);
  r.add("GET", "/events", events);
  r.add("POST", "/auth", auth);
}
