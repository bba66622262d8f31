/**
 * Renders a pull the way docker does: on a terminal one line per layer, redrawn in place
 * (`ec562eabd705: Downloading [=====>      ]  1.2MB/2.1MB`); otherwise plain status lines
 * without progress bars. Ends with `Digest:`/`Status:` and the fully qualified name.
 *
 * @module
 */
import type { EngineApi, PullProgress } from "../engine_api.ts";
import type { CliContext } from "./context.ts";
import { humanSize } from "./units.ts";
import { familiar, formatReference, parseReference } from "../image/reference.ts";

/** Options of {@link pullWithProgress}. */
export interface PullProgressOptions {
  platform?: string;
  /** Print nothing but the final name (`pull -q`); nothing at all when `toStderr`. */
  quiet?: boolean;
  /** Write progress to stderr (`run`'s implicit pull) instead of stdout. */
  toStderr?: boolean;
}

/** A 50-cell progress bar as docker draws it. */
export function progressBar(current: number, total: number): string {
  if (total <= 0) return humanSize(current);
  const width = 50;
  const filled = Math.max(0, Math.min(width, Math.floor((current / total) * width)));
  const bar = filled >= width ? "=".repeat(width) : "=".repeat(filled) + ">" +
    " ".repeat(width - filled - 1);
  return `[${bar}]  ${humanSize(current)}/${humanSize(total)}`;
}

/** Keeps one line per layer id and redraws them on a terminal. */
class ProgressView {
  #write: (text: string) => void;
  #terminal: boolean;
  #order: string[] = [];
  #lines = new Map<string, string>();

  constructor(write: (text: string) => void, terminal: boolean) {
    this.#write = write;
    this.#terminal = terminal;
  }

  event(e: PullProgress): void {
    const detail = e.progressDetail;
    const hasProgress = detail?.current !== undefined;
    if (!e.id) {
      this.#write(`${e.status}\n`);
      return;
    }
    let text = `${e.id}: ${e.status}`;
    if (hasProgress && this.#terminal) {
      text += " " + (e.progress ?? progressBar(detail!.current ?? 0, detail!.total ?? 0));
    }
    if (!this.#terminal) {
      // Without a terminal docker prints state changes only, not byte counts.
      if (!hasProgress) this.#write(`${text}\n`);
      return;
    }
    const index = this.#order.indexOf(e.id);
    if (index === -1) {
      this.#order.push(e.id);
      this.#lines.set(e.id, text);
      this.#write(`${text}\n`);
      return;
    }
    this.#lines.set(e.id, text);
    const up = this.#order.length - index;
    // Move up to the layer's line, clear it, rewrite, move back down.
    this.#write(`\x1b[${up}A\r\x1b[2K${text}\r\x1b[${up}B`);
  }
}

/**
 * Pulls `ref`, rendering progress; prints the fully qualified name at the end as docker does
 * (stdout, unless progress goes to stderr for `run`).
 */
export async function pullWithProgress(
  ctx: CliContext,
  engine: EngineApi,
  ref: string,
  options: PullProgressOptions = {},
): Promise<void> {
  const parsed = parseReference(ref);
  const toStderr = options.toStderr === true;
  const write = (text: string): void => toStderr ? ctx.io.writeErr(text) : ctx.io.writeOut(text);
  const terminal = toStderr ? Deno.stderr.isTerminal() : ctx.io.stdoutIsTerminal();
  const view = options.quiet ? undefined : new ProgressView(write, terminal);
  // `docker pull` says so; `run`'s implicit pull (on stderr) does not.
  if (view && !toStderr) {
    const noTag = parseReference(ref, { defaultTag: false });
    if (noTag.tag === undefined && noTag.digest === undefined) write("Using default tag: latest\n");
  }
  let sawStatus = false;
  const summary = await engine.pull(ref, {
    platform: options.platform,
    onProgress: (e) => {
      if (e.status.startsWith("Status:")) sawStatus = true;
      view?.event(e);
    },
  });
  if (view && !sawStatus) {
    const digest = summary.RepoDigests[0]?.split("@")[1];
    if (digest) write(`Digest: ${digest}\n`);
    write(`Status: Downloaded newer image for ${familiar(parsed)}\n`);
  }
  // `docker pull` ends with the fully qualified name (also under -q); `run` does not print it.
  if (!toStderr) ctx.io.writeOut(`${formatReference(parsed)}\n`);
}
