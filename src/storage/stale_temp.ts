/**
 * Temp entries (ingest directories, half-unpacked layers, layers being deleted) carry the pid of
 * the process that made them, so that a later process can remove what a killed one (SIGKILL,
 * OOM, power loss) left behind without touching the work of one still running. A process that
 * exits normally, or on Ctrl-C, cleans up its own entries; this sweep is for the rest.
 *
 * @module
 */
import * as fs from "node:fs";
import * as path from "node:path";

/** `p<pid>`: the owner part of a temp entry's name. */
export function ownerTag(): string {
  return `p${Deno.pid}`;
}

const OWNER = /-p(\d+)-[^-]*$/;

function alive(pid: number): boolean {
  // A pid reused by an unrelated process keeps the entry: a leak, never a removal of live work.
  return pid === Deno.pid || fs.existsSync(`/proc/${pid}`);
}

/**
 * Removes the entries of `dir` whose name starts with one of `prefixes` and carries the tag of
 * a process that no longer exists. Returns the names removed; a missing `dir` is empty.
 */
export function sweepDeadOwners(dir: string, prefixes: readonly string[]): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    if (!prefixes.some((p) => name.startsWith(p))) continue;
    const m = OWNER.exec(name);
    if (!m || alive(Number(m[1]))) continue;
    try {
      fs.rmSync(path.join(dir, name), { recursive: true, force: true });
      removed.push(name);
    } catch {
      // Best effort: a read-only or busy entry is retried by the next sweep.
    }
  }
  return removed;
}
