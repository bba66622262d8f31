/**
 * Thin wrappers over the peer tools the cross-checks compare against (skopeo, umoci, podman),
 * each confined to temp directories the caller owns and removes.
 *
 * @module
 */
import * as path from "node:path";

/** Output of a finished command. */
export interface RunResult {
  /** Exit code. */
  code: number;
  /** Decoded stdout. */
  stdout: string;
  /** Decoded stderr. */
  stderr: string;
}

/** Runs a command to completion; throws with its stderr when it fails (unless `allowFail`). */
export async function run(
  cmd: string,
  args: string[],
  options: { allowFail?: boolean; env?: Record<string, string>; cwd?: string } = {},
): Promise<RunResult> {
  const out = await new Deno.Command(cmd, {
    args,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
    env: options.env,
    cwd: options.cwd,
  }).output();
  const res = {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
  if (res.code !== 0 && !options.allowFail) {
    throw new Error(
      `Command failed (exit ${res.code}): ${cmd} ${args.join(" ")}\n${res.stderr.trim()}`,
    );
  }
  return res;
}

/**
 * Copies an image with skopeo. `src`/`dst` are skopeo transports (`oci:DIR:REF`,
 * `docker://HOST/REPO:TAG`, …); TLS verification is off because the test registry is plain http.
 */
export async function skopeoCopy(src: string, dst: string, extra: string[] = []): Promise<void> {
  const tls = [
    ...(src.startsWith("docker://") ? ["--src-tls-verify=false"] : []),
    ...(dst.startsWith("docker://") ? ["--dest-tls-verify=false"] : []),
  ];
  await run("skopeo", ["copy", "--quiet", ...tls, ...extra, src, dst]);
}

/** `skopeo inspect [--raw]` of a transport reference, parsed when not raw. */
export async function skopeoInspect(ref: string, raw = false): Promise<string> {
  const tls = ref.startsWith("docker://") ? ["--tls-verify=false"] : [];
  return (await run("skopeo", ["inspect", ...tls, ...(raw ? ["--raw"] : []), ref])).stdout;
}

/**
 * Unpacks `layoutDir:ref` with umoci into `bundle` (created) and returns its rootfs. umoci 0.4
 * reads gzip and plain layers only: convert zstd images with {@link skopeoCopy} first.
 */
export async function umociUnpack(layoutDir: string, ref: string, bundle: string): Promise<string> {
  await run("umoci", ["unpack", "--image", `${layoutDir}:${ref}`, bundle]);
  return path.join(bundle, "rootfs");
}

/**
 * A podman confined to its own temp storage (`vfs`, so no mount outlives a test). The temp dir
 * is short on purpose: podman refuses a runroot longer than 50 characters.
 */
export class Podman {
  readonly #root: string;
  constructor() {
    this.#root = Deno.makeTempDirSync({ dir: "/tmp", prefix: "pm-" });
  }
  /** Runs `podman <args>` with the temp roots and host-friendly global flags. */
  run(args: string[], allowFail = false): Promise<RunResult> {
    return run("podman", [
      "--root",
      path.join(this.#root, "storage"),
      "--runroot",
      path.join(this.#root, "run"),
      "--storage-driver",
      "vfs",
      "--cgroup-manager",
      "cgroupfs",
      "--events-backend",
      "file",
      "--tmpdir",
      path.join(this.#root, "tmp"),
      ...args,
    ], { allowFail });
  }
  /**
   * Removes everything this podman stored. Not `podman system reset`: that also deletes
   * host-wide network configs other users of the machine own.
   */
  async cleanup(): Promise<void> {
    await Deno.remove(this.#root, { recursive: true }).catch(() => {});
  }
}
