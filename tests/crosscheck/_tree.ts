/**
 * Snapshots of unpacked trees for cross-checks: every path's type, mode, owner, size, content
 * digest, link target, device numbers and xattrs (via `getfattr`, Debian package `attr`, since
 * Deno has no xattr API), plus helpers that diff two snapshots or a snapshot and the catalog.
 *
 * @module
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { createHash } from "node:crypto";
import type { CatalogFile } from "../_helpers/fixtures.ts";

/** One path of a snapshot (the fields of {@link CatalogFile} plus the inode for link groups). */
export interface TreeEntry extends Omit<CatalogFile, "hardlinkOf"> {
  /** Inode number, to check hardlink groups (not compared across trees). */
  ino: number;
  /** Link count. */
  nlink: number;
}

/** A snapshot: relative path → entry. */
export type Tree = Map<string, TreeEntry>;

/** Xattrs a peer or the kernel adds or hides on its own; never compared. */
const IGNORED_XATTRS = /^(trusted\.overlay\.|security\.selinux$|system\.)/;

function fileSha256(file: string): string {
  const h = createHash("sha256");
  const fd = fs.openSync(file, "r");
  const buf = new Uint8Array(1 << 20);
  try {
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n <= 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return h.digest("hex");
}

/** glibc's `gnu_dev_major`/`gnu_dev_minor` on a `st_rdev`. */
function devNumbers(rdev: number): [number, number] {
  const r = BigInt(rdev);
  const major = Number(((r >> 8n) & 0xfffn) | ((r >> 32n) & ~0xfffn));
  const minor = Number((r & 0xffn) | ((r >> 12n) & ~0xffn));
  return [major, minor];
}

/** Options of {@link snapshotTree}. */
export interface SnapshotOptions {
  /** Keep `trusted.overlay.*` xattrs (to inspect a layer's opaque markers); default false. */
  overlayXattrs?: boolean;
}

/** Reads every xattr under `root` in one `getfattr` run: absolute path → name → hex. */
function readXattrs(root: string, keepOverlay: boolean): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>();
  let res: Deno.CommandOutput;
  try {
    res = new Deno.Command("getfattr", {
      args: ["-R", "-P", "-h", "-d", "-m", "-", "-e", "hex", "--absolute-names", root],
      stdout: "piped",
      stderr: "piped",
    }).outputSync();
  } catch (err) {
    throw new Error("Cannot read xattrs: getfattr is missing (Debian package attr)", {
      cause: err,
    });
  }
  // getfattr exits 1 when some path has no xattrs; only missing output is an error.
  const text = new TextDecoder().decode(res.stdout);
  let current: Record<string, string> | undefined;
  for (const line of text.split("\n")) {
    if (line.startsWith("# file: ")) {
      current = {};
      out.set(unescapeGetfattr(line.slice(8)), current);
    } else if (current && line.includes("=")) {
      const i = line.indexOf("=");
      const name = line.slice(0, i);
      const overlay = keepOverlay && name.startsWith("trusted.overlay.");
      if (overlay || !IGNORED_XATTRS.test(name)) {
        current[name] = line.slice(i + 1).replace(/^0x/, "");
      }
    }
  }
  return out;
}

/** getfattr escapes non-printable bytes of names as `\ooo` octal. */
function unescapeGetfattr(s: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === "\\" && /^[0-7]{3}$/.test(s.slice(i + 1, i + 4))) {
      bytes.push(parseInt(s.slice(i + 1, i + 4), 8));
      i += 3;
    } else {
      bytes.push(...new TextEncoder().encode(s[i]));
    }
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

/** Walks `root` (not following symlinks) and records every path below it. */
export function snapshotTree(root: string, options: SnapshotOptions = {}): Tree {
  const xattrs = readXattrs(root, options.overlayXattrs ?? false);
  const tree: Tree = new Map();
  const walk = (rel: string): void => {
    const abs = rel === "" ? root : path.join(root, rel);
    for (const name of fs.readdirSync(abs).sort()) {
      const childRel = rel === "" ? name : `${rel}/${name}`;
      const childAbs = path.join(root, childRel);
      const st = fs.lstatSync(childAbs);
      const e: TreeEntry = {
        path: childRel,
        type: st.isDirectory()
          ? "dir"
          : st.isSymbolicLink()
          ? "symlink"
          : st.isCharacterDevice()
          ? "char"
          : st.isBlockDevice()
          ? "block"
          : st.isFIFO()
          ? "fifo"
          : "file",
        mode: st.mode & 0o7777,
        uid: st.uid,
        gid: st.gid,
        ino: st.ino,
        nlink: st.nlink,
      };
      if (e.type === "file") {
        e.size = st.size;
        e.sha256 = fileSha256(childAbs);
      } else if (e.type === "symlink") {
        e.linkname = fs.readlinkSync(childAbs);
        e.mode = 0o777;
      } else if (e.type === "char" || e.type === "block") {
        [e.devmajor, e.devminor] = devNumbers(st.rdev);
      }
      const x = xattrs.get(childAbs);
      if (x && Object.keys(x).length > 0) e.xattrs = x;
      tree.set(childRel, e);
      if (e.type === "dir") walk(childRel);
    }
  };
  walk("");
  return tree;
}

const COMPARED = [
  "type",
  "mode",
  "uid",
  "gid",
  "size",
  "sha256",
  "linkname",
  "devmajor",
  "devminor",
] as const;

function describe(e: Partial<TreeEntry> | undefined): string {
  if (!e) return "missing";
  return COMPARED.filter((k) => e[k] !== undefined).map((k) =>
    `${k}=${k === "mode" ? (e.mode ?? 0).toString(8) : e[k]}`
  ).join(" ") + (e.xattrs ? ` xattrs=${JSON.stringify(e.xattrs)}` : "");
}

function entryDiff(a: Partial<TreeEntry>, b: Partial<TreeEntry>): string[] {
  const out: string[] = [];
  for (const k of COMPARED) {
    if (a[k] !== b[k]) {
      const fmt = (v: unknown): string =>
        k === "mode" && typeof v === "number" ? v.toString(8) : String(v);
      out.push(`${k} ${fmt(a[k])} != ${fmt(b[k])}`);
    }
  }
  const xa = JSON.stringify(Object.entries(a.xattrs ?? {}).sort());
  const xb = JSON.stringify(Object.entries(b.xattrs ?? {}).sort());
  if (xa !== xb) out.push(`xattrs ${xa} != ${xb}`);
  return out;
}

/**
 * Differences between two snapshots, one line per path (`path: what differs`), or an empty
 * list when they agree on every compared field. Labels name the sides in the messages.
 */
export function diffTrees(a: Tree, b: Tree, labels: [string, string] = ["a", "b"]): string[] {
  const out: string[] = [];
  for (const p of [...new Set([...a.keys(), ...b.keys()])].sort()) {
    const ea = a.get(p);
    const eb = b.get(p);
    if (!ea || !eb) {
      out.push(`${p}: only in ${ea ? labels[0] : labels[1]} (${describe(ea ?? eb)})`);
      continue;
    }
    const d = entryDiff(ea, eb);
    if (d.length > 0) out.push(`${p}: ${d.join(", ")} (${labels[0]} vs ${labels[1]})`);
  }
  return out;
}

/**
 * Differences between a snapshot and the catalog's expected files, including hardlink groups
 * (each `hardlinkOf` must share an inode with its target).
 */
export function diffCatalog(tree: Tree, expected: CatalogFile[]): string[] {
  const want: Tree = new Map(expected.map((f) => [f.path, { ...f, ino: 0, nlink: 0 }]));
  const out = diffTrees(tree, want, ["unpacked", "catalog"]);
  for (const f of expected) {
    if (!f.hardlinkOf) continue;
    const a = tree.get(f.path);
    const b = tree.get(f.hardlinkOf);
    if (a && b && a.ino !== b.ino) out.push(`${f.path}: not a hardlink of ${f.hardlinkOf}`);
  }
  return out;
}

/** Throws one readable error listing (at most 40) differences, if any. */
export function assertNoDiff(diffs: string[], what: string): void {
  if (diffs.length === 0) return;
  const shown = diffs.slice(0, 40).join("\n  ");
  const more = diffs.length > 40 ? `\n  … and ${diffs.length - 40} more` : "";
  throw new Error(`${what}: ${diffs.length} difference(s):\n  ${shown}${more}`);
}
