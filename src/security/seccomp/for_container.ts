/**
 * The engine-side entry point: from `--security-opt seccomp=…`, `--privileged` and the
 * container's capabilities to the `linux.seccomp` object of its spec, with the compiled program
 * attached so the container's init only has to load it (no zod, no compiling on the start path).
 *
 * @module
 */
import { InvalidArgumentError } from "../../errors.ts";
import { compileProfileDetailed } from "./compiler.ts";
import { defaultProfile } from "./default_profile.ts";
import { parseProfileJson } from "./profile.ts";
import { type OciSeccomp, toOciSeccomp } from "./resolve.ts";
import { SECCOMP_PROGRAM_KEY } from "./program_key.ts";

export { SECCOMP_PROGRAM_KEY };

/** `linux.seccomp` as docker-ts writes it: the OCI object plus the compiled program. */
export type SpecSeccomp = OciSeccomp & { [SECCOMP_PROGRAM_KEY]: string };

/** Inputs of {@link seccompForContainer}. */
export interface ContainerSeccompOptions {
  /**
   * The value of `--security-opt seccomp=…`: `unconfined`, `builtin`/`default` (or absent) for
   * the default profile, or a profile file path.
   */
  securityOpt?: string;
  /** `--privileged`: no filter at all, as Docker. */
  privileged?: boolean;
  /** The container's capabilities after `--cap-add`/`--cap-drop`. */
  capabilities: Iterable<string>;
  /** Host architecture; default this host. */
  arch?: string;
  /** Kernel release for `minKernel`; default this host's. */
  kernel?: string;
  /** Reads a profile file; default `Deno.readTextFileSync`. */
  readFile?: (path: string) => string;
}

/** base64 of bytes (no dependency; programs are a few KiB). */
function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

/**
 * Decides the container's seccomp: `undefined` means unconfined (`seccomp=unconfined` or
 * `--privileged`); otherwise the spec's `linux.seccomp` with the program attached.
 *
 * @throws InvalidArgumentError for an unreadable or invalid profile file
 */
export function seccompForContainer(options: ContainerSeccompOptions): SpecSeccomp | undefined {
  if (options.privileged) return undefined;
  const opt = options.securityOpt?.trim();
  if (opt === "unconfined") return undefined;
  let profile: unknown;
  if (!opt || opt === "builtin" || opt === "default") profile = defaultProfile();
  else {
    let text: string;
    try {
      text = (options.readFile ?? Deno.readTextFileSync)(opt);
    } catch (err) {
      throw new InvalidArgumentError(
        `Cannot read seccomp profile "${opt}": ${err instanceof Error ? err.message : err}`,
        { cause: err },
      );
    }
    profile = parseProfileJson(text);
  }
  const compiled = compileProfileDetailed(profile, {
    capabilities: options.capabilities,
    ...(options.arch ? { arch: options.arch } : {}),
    ...(options.kernel ? { kernel: options.kernel } : {}),
  });
  return { ...toOciSeccomp(compiled.resolved), [SECCOMP_PROGRAM_KEY]: toBase64(compiled.program) };
}

/** What `docker info` reports about seccomp on this host. */
export interface SeccompInfo {
  /** The kernel supports seccomp filters. */
  enabled: boolean;
  /** The profile containers get by default. */
  profile: "builtin";
  /** Actions the kernel supports (from /proc/sys/kernel/seccomp/actions_avail). */
  actions: string[];
}

/** Seccomp support on this host, from /proc (no FFI). */
export function seccompInfo(procRoot = "/proc"): SeccompInfo {
  let actions: string[] = [];
  try {
    actions = Deno.readTextFileSync(`${procRoot}/sys/kernel/seccomp/actions_avail`).trim()
      .split(/\s+/).filter(Boolean);
  } catch {
    // Older kernels lack the file; the Seccomp line in status still tells support.
  }
  let enabled = actions.length > 0;
  if (!enabled) {
    try {
      enabled = /^Seccomp:\s/m.test(Deno.readTextFileSync(`${procRoot}/self/status`));
    } catch {
      enabled = false;
    }
  }
  return { enabled, profile: "builtin", actions };
}
