/**
 * Auto-start of the daemon for commands whose containers must outlive the CLI (`run -d`,
 * `start`, `restart`) when no daemon answers on the socket.
 *
 * The daemon is started detached: `/usr/bin/setsid -f` puts it in its own session (no
 * controlling terminal, so the CLI's Ctrl-C and hangup never reach it) and forks, so it is
 * reparented to init at once and the CLI has no child to wait for. Deno.Command cannot redirect
 * to a file, so a `/bin/sh` wrapper points its stdio at `<runroot>/docker-ts-daemon.log`. A lock
 * file serialises CLIs racing to start it; the daemon exits by itself after `--idle-exit`.
 *
 * @module
 */
import { dirnamePath, joinPath, resolvePath } from "../util/path.ts";
import { UnavailableError } from "../errors.ts";
import { withLock } from "../container/lock.ts";

/** Options of {@link autostartDaemon}. */
export interface AutostartOptions {
  /** Socket the daemon listens on (and the CLI then uses). */
  socket: string;
  root: string;
  runroot: string;
  /** Quiet period after which the daemon exits (default `30s`). */
  idleExit?: string;
  /** How long to wait for the socket to answer (default 15 s). */
  timeoutMs?: number;
}

/** The daemon's log file under a runroot. */
export function daemonLogPath(runroot: string): string {
  return joinPath(runroot, "docker-ts-daemon.log");
}

/** Whether a daemon answers `GET /_ping` on the socket (within ~1 s). */
export async function daemonAnswers(socket: string): Promise<boolean> {
  try {
    Deno.lstatSync(socket);
  } catch {
    return false;
  }
  let conn: Deno.UnixConn | undefined;
  const timer = setTimeout(() => conn?.close(), 1000);
  try {
    conn = await Deno.connect({ transport: "unix", path: socket });
    await conn.write(
      new TextEncoder().encode(
        "GET /_ping HTTP/1.1\r\nHost: docker-ts\r\nConnection: close\r\n\r\n",
      ),
    );
    const buf = new Uint8Array(64);
    const n = await conn.read(buf);
    return n !== null && /^HTTP\/1\.[01] 200/.test(new TextDecoder().decode(buf.subarray(0, n)));
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
    try {
      conn?.close();
    } catch {
      // closed by the timer
    }
  }
}

/** The argv that runs `docker-ts daemon` from this checkout (config given: cwd is `/`). */
export function daemonCommand(o: AutostartOptions): string[] {
  const here = dirnamePath(new URL(import.meta.url).pathname);
  const repo = resolvePath(joinPath(here, "../.."));
  return [
    Deno.execPath(),
    "run",
    "-A",
    "--config",
    joinPath(repo, "deno.json"),
    joinPath(repo, "mod.ts"),
    "--root",
    o.root,
    "--runroot",
    o.runroot,
    "daemon",
    "-H",
    `unix://${o.socket}`,
    "--idle-exit",
    o.idleExit ?? "30s",
  ];
}

/**
 * Starts a detached daemon on `socket` unless one answers already, and waits until it does.
 * Throws UnavailableError (naming the log file) when it does not come up in time.
 */
export async function autostartDaemon(o: AutostartOptions): Promise<void> {
  if (await daemonAnswers(o.socket)) return;
  Deno.mkdirSync(o.runroot, { recursive: true, mode: 0o755 });
  const log = daemonLogPath(o.runroot);
  await withLock(joinPath(o.runroot, "daemon-autostart.lock"), async () => {
    // Another CLI may have started it while this one waited for the lock.
    if (await daemonAnswers(o.socket)) return;
    const argv = daemonCommand(o);
    const child = new Deno.Command("/bin/sh", {
      args: [
        "-c",
        'exec /usr/bin/setsid -f "$@" </dev/null >>"$DOCKER_TS_DAEMON_LOG" 2>&1',
        "sh",
        ...argv,
      ],
      env: { DOCKER_TS_DAEMON_LOG: log },
      cwd: "/",
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const st = await child.output();
    if (!st.success) {
      throw new UnavailableError(
        `Cannot start the docker-ts daemon: ${new TextDecoder().decode(st.stderr).trim()}`,
      );
    }
    const deadline = Date.now() + (o.timeoutMs ?? 15_000);
    while (Date.now() < deadline) {
      if (await daemonAnswers(o.socket)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new UnavailableError(
      `Cannot start the docker-ts daemon: it did not answer on unix://${o.socket} (see ${log})`,
    );
  });
}
