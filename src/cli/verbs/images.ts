/**
 * `docker-ts images` / `image ls`: list images as docker's table or a `--format` template.
 *
 * @module
 */
import type { Command } from "../command.ts";
import { bool, list, PROG, str } from "../command.ts";
import type { ImageSummary } from "../../engine_api.ts";
import { renderList } from "../table.ts";
import { humanSize, shortId, timeAgo } from "../units.ts";
import { CliError } from "../cli_error.ts";

const HEADERS: Record<string, string> = {
  ID: "IMAGE ID",
  Repository: "REPOSITORY",
  Tag: "TAG",
  Digest: "DIGEST",
  CreatedSince: "CREATED",
  CreatedAt: "CREATED AT",
  Size: "SIZE",
  Containers: "CONTAINERS",
  SharedSize: "SHARED SIZE",
  UniqueSize: "UNIQUE SIZE",
  VirtualSize: "VIRTUAL SIZE",
};

/** One displayed row: an image appears once per tag (or once as `<none>`). */
export interface ImageRow {
  ID: string;
  Repository: string;
  Tag: string;
  Digest: string;
  CreatedSince: string;
  CreatedAt: string;
  Size: string;
  VirtualSize: string;
  Containers: string;
  SharedSize: string;
  UniqueSize: string;
}

/** Splits `name:tag` at the tag's colon (not a registry port's). */
export function splitRepoTag(repoTag: string): [string, string] {
  const slash = repoTag.lastIndexOf("/");
  const colon = repoTag.lastIndexOf(":");
  return colon > slash ? [repoTag.slice(0, colon), repoTag.slice(colon + 1)] : [repoTag, "<none>"];
}

/** Builds the rows docker shows for `images`. */
export function imageRows(images: ImageSummary[], trunc: boolean, now = Date.now()): ImageRow[] {
  const rows: ImageRow[] = [];
  for (const img of images) {
    const digestFor = (repo: string): string => {
      const d = (img.RepoDigests ?? []).find((rd) => rd.startsWith(repo + "@"));
      return d ? d.slice(d.indexOf("@") + 1) : "<none>";
    };
    const base = {
      ID: trunc ? shortId(img.Id) : img.Id,
      CreatedSince: timeAgo(img.Created * 1000, now),
      CreatedAt: new Date(img.Created * 1000).toISOString().replace("T", " ").replace(
        /\.\d+Z$/,
        " +0000 UTC",
      ),
      Size: humanSize(img.Size),
      VirtualSize: humanSize(img.Size),
      Containers: "N/A",
      SharedSize: "N/A",
      UniqueSize: "N/A",
    };
    const tags = img.RepoTags ?? [];
    if (tags.length === 0) {
      const rd = (img.RepoDigests ?? [])[0];
      const repo = rd ? rd.slice(0, rd.indexOf("@")) : "<none>";
      rows.push({
        ...base,
        Repository: repo,
        Tag: "<none>",
        Digest: rd ? rd.slice(rd.indexOf("@") + 1) : "<none>",
      });
      continue;
    }
    for (const rt of tags) {
      const [repo, tag] = splitRepoTag(rt);
      rows.push({ ...base, Repository: repo, Tag: tag, Digest: digestFor(repo) });
    }
  }
  return rows;
}

/** Go's path.Match-style glob (`*`, `?`, `[…]`; `*` stops at `/`). */
export function globMatch(pattern: string, text: string): boolean {
  let re = "^";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const end = pattern.indexOf("]", i + 1);
      if (end === -1) return false;
      re += "[" + pattern.slice(i + 1, end).replace(/^\^/, "^").replace(/\\/g, "\\\\") + "]";
      i = end;
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  }
  return new RegExp(re + "$").test(text);
}

function tagMatches(rt: string, pattern: string): boolean {
  const [repo] = splitRepoTag(rt);
  return globMatch(pattern, rt) || globMatch(pattern, repo);
}

/** docker keeps only the matching names of an image, and drops images left with none. */
function filterByReference(images: ImageSummary[], pattern: string): ImageSummary[] {
  return images
    .map((img) => ({
      ...img,
      RepoTags: (img.RepoTags ?? []).filter((t) => tagMatches(t, pattern)),
    }))
    .filter((img) => img.RepoTags.length > 0);
}

function applyFilters(
  images: ImageSummary[],
  filters: string[],
  positional?: string,
): ImageSummary[] {
  let out = images;
  if (positional) out = filterByReference(out, positional);
  for (const f of filters) {
    const eq = f.indexOf("=");
    if (eq <= 0) throw new CliError(`bad format of filter (expected name=value)`);
    const key = f.slice(0, eq);
    const value = f.slice(eq + 1);
    switch (key) {
      case "reference":
        out = filterByReference(out, value);
        break;
      case "dangling": {
        if (!["true", "false", "1", "0"].includes(value)) {
          throw new CliError(`invalid filter 'dangling=${value}'`);
        }
        const want = value === "true" || value === "1";
        out = out.filter((img) => ((img.RepoTags ?? []).length === 0) === want);
        break;
      }
      case "label": {
        const le = value.indexOf("=");
        out = out.filter((img) =>
          le === -1
            ? value in (img.Labels ?? {})
            : img.Labels?.[value.slice(0, le)] === value.slice(le + 1)
        );
        break;
      }
      default:
        throw new CliError(`invalid filter '${key}'`);
    }
  }
  return out;
}

/** The `images` verb. */
export const command: Command = {
  name: "images",
  usage: "[OPTIONS] [REPOSITORY[:TAG]]",
  description: "List images",
  aliases: [`${PROG} image ls`, `${PROG} image list`, `${PROG} images`],
  flags: [
    {
      name: "all",
      short: "a",
      kind: "bool",
      description: "Show all images (default hides intermediate images)",
    },
    { name: "digests", kind: "bool", description: "Show digests" },
    {
      name: "filter",
      short: "f",
      kind: "list",
      valueName: "filter",
      description: "Filter output based on conditions provided",
    },
    {
      name: "format",
      kind: "string",
      description:
        "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template",
    },
    { name: "no-trunc", kind: "bool", description: "Don't truncate output" },
    { name: "quiet", short: "q", kind: "bool", description: "Only show image IDs" },
  ],
  args: { max: 1 },
  async action(ctx, parsed): Promise<number> {
    const engine = await ctx.engine();
    let images = await engine.listImages({ all: bool(parsed, "all") });
    images = applyFilters(images, list(parsed, "filter"), parsed.positionals[0]);
    images.sort((a, b) => b.Created - a.Created);
    const trunc = !bool(parsed, "no-trunc");
    if (bool(parsed, "quiet")) {
      const ids = [...new Set(images.map((i) => (trunc ? shortId(i.Id) : i.Id)))];
      ctx.io.writeOut(ids.map((id) => id + "\n").join(""));
      return 0;
    }
    const defaultTable = bool(parsed, "digests")
      ? "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
      : "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}";
    ctx.io.writeOut(renderList(imageRows(images, trunc), {
      format: str(parsed, "format"),
      defaultTable,
      headers: HEADERS,
      typeName: "*formatter.ImageContext",
    }));
    return 0;
  },
};
