/**
 * `exec`: extra processes in a running container, with the same confinement as its first
 * process (namespaces, cgroup, capabilities, no_new_privs, seccomp, user). Each exec spawns from
 * a fresh single-use Worker (`src/runtime/exec_worker.ts`) that is terminated right after, so the
 * engine's own threads never change namespace. Exits come from the shared reaper.
 *
 * @module
 */
import { lazyImport } from "./util/lazy_import.ts";
import { toWritable } from "./util/output_sink.ts";
import type { CgroupHandle } from "./cgroups/types.ts";
import { assertCanDo, deriveStatus } from "./container/state.ts";
import type { ContainerStore } from "./container/store.ts";
import {
  type ConsoleSize,
  ContainerExecError,
  type ExecCreateOptions,
  type ExecInspect,
  type ExecStartOptions,
} from "./engine_api.ts";
import { ConflictError, InvalidArgumentError, NotFoundError } from "./errors.ts";
import type { ExecWorkerReply, ExecWorkerRequest } from "./runtime/exec_worker.ts";
import type { Pty as PtyT } from "./runtime/pty.ts";
import type { Stdio } from "./runtime/stdio.ts";

const WORKER_URL = new URL("./runtime/exec_worker.ts", import.meta.url);

interface ExecInstance {
  id: string;
  containerId: string;
  options: ExecCreateOptions;
  running: boolean;
  started: boolean;
  exitCode: number | null;
  pid: number;
  stdio?: Stdio;
  done?: Promise<number>;
}

/** What exec needs from the engine. */
export interface ExecContext {
  store: ContainerStore;
  /** The container's cgroup handle (null without cgroups). */
  cgroup(id: string): Promise<CgroupHandle | null>;
}

function randomHex(bytes: number): string {
  const b = crypto.getRandomValues(new Uint8Array(bytes));
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
}

function runWorker(req: ExecWorkerRequest): Promise<ExecWorkerReply> {
  const worker = new Worker(WORKER_URL, { type: "module" });
  return new Promise<ExecWorkerReply>((resolve) => {
    worker.onmessage = (ev: MessageEvent<ExecWorkerReply>) => resolve(ev.data);
    worker.onerror = (ev: ErrorEvent) => {
      ev.preventDefault();
      resolve({ ok: false, exitCode: 126, message: `Cannot exec: ${ev.message}` });
    };
    worker.postMessage(req);
  }).finally(() => worker.terminate());
}

/**
 * Stdio over a pty from the container's own devpts (`/proc/<pid>/root/dev/pts/ptmx`): the slave
 * is `/dev/pts/N` inside the container, which the exec'd process opens there as its controlling
 * terminal. A host pty's slave does not exist in the container's devpts, so `tty` said "not a
 * tty" and the shell had no job control. The child's 0/1/2 are the slave; output is the master.
 */
async function containerTtyStdio(
  pid: number,
  size: ConsoleSize,
  withStdin: boolean,
): Promise<Stdio> {
  const { Pty } = await lazyImport<typeof import("./runtime/pty.ts")>(
    new URL("./runtime/pty.ts", import.meta.url),
  );
  const { readableFromFd, writableToFd } = await lazyImport<typeof import("./runtime/stdio.ts")>(
    new URL("./runtime/stdio.ts", import.meta.url),
  );
  let pty: PtyT;
  try {
    pty = Pty.open(size, undefined, { root: `/proc/${pid}/root` });
  } catch (err) {
    throw new ContainerExecError(
      `Cannot allocate a terminal in the container: ${(err as Error).message}`,
      126,
      { cause: err },
    );
  }
  const slave = pty.slaveFd;
  // The master has up to three owners (the pty for resize, output, input); it closes with the last.
  const stdout = readableFromFd(pty.master.retain(), { eioIsEof: true });
  const stdin = withStdin ? writableToFd(pty.master.retain()) : undefined;
  return {
    childFds: [slave, slave, slave],
    tty: { slavePath: pty.slavePath },
    closeChildEnds: () => pty.closeSlave(),
    stdin,
    stdout,
    pty,
    close(opts = {}): void {
      pty.closeSlave();
      if (opts.streams) {
        stdout.cancel().catch(() => {});
        stdin?.abort().catch(() => {});
      }
      pty.close();
    },
  };
}

/** The exec instances of one engine. */
export class ExecManager {
  readonly #ctx: ExecContext;
  readonly #execs = new Map<string, ExecInstance>();

  constructor(ctx: ExecContext) {
    this.#ctx = ctx;
  }

  #get(execId: string): ExecInstance {
    const e = this.#execs.get(execId);
    if (!e) throw new NotFoundError(`No such exec instance: ${execId}`);
    return e;
  }

  /** Creates an exec instance in a running container; returns its id. */
  create(containerId: string, options: ExecCreateOptions): string {
    if (!options.cmd?.length) {
      throw new InvalidArgumentError("No exec command specified");
    }
    const c = this.#ctx.store.get(containerId);
    const st = deriveStatus(c.state);
    if (st === "paused") {
      throw new ConflictError(
        `Container ${containerId} is paused, unpause the container before exec`,
      );
    }
    assertCanDo("exec", st, containerId);
    const id = randomHex(32);
    this.#execs.set(id, {
      id,
      containerId,
      options,
      running: false,
      started: false,
      exitCode: null,
      pid: 0,
    });
    return id;
  }

  /**
   * Starts an exec. Without `detach` resolves once it exited and its output is drained; with
   * `detach` once it runs. 126/127 launch failures reject with {@link ContainerExecError}.
   */
  async start(execId: string, io: ExecStartOptions = {}): Promise<void> {
    const e = this.#get(execId);
    if (e.started) throw new ConflictError(`Exec ${execId} has already been started`);
    e.started = true;
    const c = this.#ctx.store.get(e.containerId);
    const st = deriveStatus(c.state);
    assertCanDo("exec", st, e.containerId);
    const spec = this.#ctx.store.spec(e.containerId);
    const o = e.options;
    const { createStdio } = await lazyImport<typeof import("./runtime/stdio.ts")>(
      new URL("./runtime/stdio.ts", import.meta.url),
    );
    const attached = !io.detach;
    const stdin = o.interactive && io.stdin && attached ? "pipe" : "null";
    const stdio = o.tty
      ? await containerTtyStdio(
        c.state.pid!,
        io.consoleSize ?? { rows: 24, cols: 80 },
        stdin === "pipe",
      ).catch((err) => {
        e.exitCode = 126;
        throw err;
      })
      : createStdio({
        stdin,
        stdout: attached && io.stdout ? "pipe" : "null",
        stderr: attached && io.stderr ? "pipe" : "null",
      });
    e.stdio = stdio;
    const cg = await this.#ctx.cgroup(e.containerId).catch(() => null);
    const v1Dirs = cg && cg.version === 1 ? Object.values(cg.paths) : [];
    let reply: ExecWorkerReply;
    try {
      reply = await runWorker({
        pid: c.state.pid!,
        process: spec.process,
        args: o.cmd,
        env: o.env ?? [],
        user: o.user,
        groupAdd: c.record.options.groupAdd,
        cwd: o.workdir,
        privileged: o.privileged ?? false,
        seccomp: spec.linux.seccomp,
        cgroupDirs: v1Dirs,
        fds: stdio.childFds,
        ttySlave: stdio.tty?.slavePath,
      });
    } finally {
      stdio.closeChildEnds();
    }
    if (!reply.ok) {
      stdio.close({ streams: true });
      e.exitCode = reply.exitCode;
      throw new ContainerExecError(reply.message, reply.exitCode);
    }
    e.pid = reply.pid;
    e.running = true;
    if (cg && cg.version !== 1) {
      try {
        cg.addProcess(reply.pid);
      } catch {
        // exited already
      }
    }
    const { reaper } = await lazyImport<typeof import("./runtime/reaper.ts")>(
      new URL("./runtime/reaper.ts", import.meta.url),
    );
    const exited = reaper().watch(reply.pid);
    const pumps: Promise<unknown>[] = [];
    const stdinStop = new AbortController();
    if (stdio.stdin && io.stdin) {
      io.stdin.pipeTo(stdio.stdin, { signal: stdinStop.signal, preventCancel: true }).catch(
        () => {},
      );
    }
    for (
      const [from, to] of [[stdio.stdout, io.stdout], [stdio.stderr, io.stderr]] as const
    ) {
      if (!from) continue;
      if (to) pumps.push(from.pipeTo(toWritable(to), { preventClose: true }).catch(() => {}));
      else pumps.push(from.cancel().catch(() => {}));
    }
    const onAbort = (): void => {
      try {
        Deno.kill(reply.pid, "SIGKILL");
      } catch {
        // gone
      }
    };
    io.signal?.addEventListener("abort", onAbort, { once: true });
    e.done = (async (): Promise<number> => {
      const s = await exited.catch(() => ({ exitCode: 126 }));
      await Promise.all(pumps);
      stdinStop.abort();
      stdio.close();
      io.signal?.removeEventListener("abort", onAbort);
      e.running = false;
      e.exitCode = s.exitCode;
      return s.exitCode;
    })();
    if (!io.detach) await e.done;
  }

  /** Resolves with the exec's exit code once it ended. */
  async wait(execId: string): Promise<number> {
    const e = this.#get(execId);
    if (e.done) return await e.done;
    return e.exitCode ?? 0;
  }

  /** `GET /exec/{id}/json`. */
  inspect(execId: string): ExecInspect {
    const e = this.#get(execId);
    return {
      ID: e.id,
      ContainerID: e.containerId,
      Running: e.running,
      ExitCode: e.exitCode,
      Pid: e.pid,
      OpenStdin: e.options.interactive ?? false,
      OpenStdout: true,
      OpenStderr: true,
      ProcessConfig: {
        entrypoint: e.options.cmd[0],
        arguments: e.options.cmd.slice(1),
        privileged: e.options.privileged ?? false,
        tty: e.options.tty ?? false,
        user: e.options.user ?? "",
      },
    };
  }

  /** Resizes the exec's pty. */
  resize(execId: string, size: ConsoleSize): void {
    const e = this.#get(execId);
    if (!e.running || !e.stdio?.pty) {
      throw new ConflictError(`Exec ${execId} is not running with a terminal`);
    }
    e.stdio.pty.resize(size.rows, size.cols);
  }

  /** Forgets the execs of a removed container. */
  forgetContainer(containerId: string): void {
    for (const [id, e] of this.#execs) if (e.containerId === containerId) this.#execs.delete(id);
  }
}
