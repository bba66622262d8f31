/**
 * `-u user[:group]` resolution through the container's own `/etc/passwd` and `/etc/group`, with
 * the rules of runc's `GetExecUser` that Docker uses: names must exist, numeric ids need not,
 * supplementary groups are the primary group plus, when no group is given, the user's group
 * memberships; HOME comes from the passwd entry (else `/`).
 *
 * @module
 */
import { InvalidArgumentError } from "../errors.ts";

/** The resolved credentials of the container's process. */
export interface ExecUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  home: string;
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

function parsePasswd(content: string | null): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of (content ?? "").split("\n")) {
    if (line.trim() === "" || line.startsWith("#")) continue;
    const f = line.split(":");
    if (f.length < 4) continue;
    const uid = Number(f[2]);
    const gid = Number(f[3]);
    if (!Number.isInteger(uid) || !Number.isInteger(gid)) continue;
    out.push({ name: f[0], uid, gid, home: f[5] ?? "" });
  }
  return out;
}

function parseGroup(content: string | null): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of (content ?? "").split("\n")) {
    if (line.trim() === "" || line.startsWith("#")) continue;
    const f = line.split(":");
    if (f.length < 3) continue;
    const gid = Number(f[2]);
    if (!Number.isInteger(gid)) continue;
    out.push({
      name: f[0],
      gid,
      members: (f[3] ?? "").split(",").map((m) => m.trim()).filter(Boolean),
    });
  }
  return out;
}

const MAX_ID = 2 ** 31 - 1;

function numeric(s: string): number | undefined {
  if (!/^\d+$/.test(s)) return undefined;
  return Number(s);
}

/** runc's ErrRange, for a numeric id without an entry outside what the kernel takes. */
function checkRange(n: number): number {
  if (n > MAX_ID) {
    throw new InvalidArgumentError(`uids and gids must be in range 0-${MAX_ID}`);
  }
  return n;
}

/**
 * Resolves a `--user` value against passwd/group file contents (null when the file is absent).
 *
 * @example
 * ```ts
 * import { resolveUser } from "./user.ts";
 * const u = resolveUser("app", { passwd: "app:x:1000:1000::/home/app:/bin/sh\n", group: null });
 * console.assert(u.uid === 1000 && u.home === "/home/app");
 * ```
 */
export function resolveUser(
  spec: string | undefined,
  files: { passwd: string | null; group: string | null },
): ExecUser {
  const value = spec ?? "";
  const colon = value.indexOf(":");
  const userPart = colon < 0 ? value : value.slice(0, colon);
  const groupPart = colon < 0 ? undefined : value.slice(colon + 1);
  const users = parsePasswd(files.passwd);
  const groups = parseGroup(files.group);

  let uid = 0;
  let gid = 0;
  let home = "/";
  let entry: PasswdEntry | undefined;
  if (userPart === "") {
    entry = users.find((u) => u.uid === 0);
  } else {
    const n = numeric(userPart);
    entry = n === undefined
      ? users.find((u) => u.name === userPart)
      : users.find((u) => u.uid === n);
    if (!entry && n === undefined) {
      throw new InvalidArgumentError(
        `unable to find user ${userPart}: no matching entries in passwd file`,
      );
    }
    if (!entry) uid = checkRange(n!);
  }
  if (entry) {
    uid = entry.uid;
    gid = entry.gid;
    if (entry.home) home = entry.home;
  }

  if (groupPart !== undefined && groupPart !== "") {
    const n = numeric(groupPart);
    const g = n === undefined
      ? groups.find((x) => x.name === groupPart)
      : groups.find((x) => x.gid === n);
    if (!g && n === undefined) {
      throw new InvalidArgumentError(
        `unable to find group ${groupPart}: no matching entries in group file`,
      );
    }
    gid = g ? g.gid : checkRange(n!);
  }

  // The primary group leads the list (moby's fix for CVE-2022-36109: a process must not be able
  // to shed its primary group with setgroups). Membership in /etc/group only counts when the
  // group was left implicit: runc's GetExecUser ignores it once a group is named.
  const additionalGids: number[] = [gid];
  if (entry && (groupPart === undefined || groupPart === "")) {
    for (const g of groups) {
      if (g.members.includes(entry.name) && !additionalGids.includes(g.gid)) {
        additionalGids.push(g.gid);
      }
    }
  }
  return { uid, gid, additionalGids, home };
}

/**
 * Resolves `--group-add` entries against the container's /etc/group content: a name must have an
 * entry; a number is taken as a gid with or without one (Docker's rules and messages).
 *
 * @example
 * ```ts
 * import { resolveGroupAdd } from "./user.ts";
 * console.assert(resolveGroupAdd(["staff", "4242"], "staff:x:50:\n").join() === "50,4242");
 * ```
 */
export function resolveGroupAdd(entries: readonly string[], group: string | null): number[] {
  const groups = parseGroup(group);
  const out: number[] = [];
  for (const entry of entries) {
    const n = numeric(entry);
    const g = n === undefined ? groups.find((x) => x.name === entry) : undefined;
    if (n === undefined && !g) {
      throw new InvalidArgumentError(
        `Unable to find group ${entry}: no matching entries in group file`,
      );
    }
    const gid = g ? g.gid : checkRange(n!);
    if (!out.includes(gid)) out.push(gid);
  }
  return out;
}
