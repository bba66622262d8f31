/**
 * Image references, parsed the way docker's reference library (distribution/reference) does:
 * `busybox` → `docker.io/library/busybox:latest`, `host:5000/a/b:tag`, `name@sha256:…`,
 * `name:tag@sha256:…`. Errors use docker's wording so users and scripts recognise them.
 *
 * @module
 */
import { InvalidArgumentError } from "../errors.ts";

/** The registry that unqualified names resolve to. */
export const DEFAULT_DOMAIN = "docker.io";
/** The host serving {@link DEFAULT_DOMAIN}'s registry API. */
export const DEFAULT_REGISTRY_HOST = "registry-1.docker.io";
const LEGACY_DOMAIN = "index.docker.io";
const OFFICIAL_PREFIX = "library/";
const NAME_TOTAL_LENGTH_MAX = 255;

// The grammar of distribution/reference/regexp.go, written out once.
const alnum = "[a-z0-9]+";
const separator = "(?:[._]|__|[-]+)";
const pathComponent = `${alnum}(?:${separator}${alnum})*`;
const domainComponent = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const ipv6 = "\\[(?:[a-fA-F0-9:]+)\\]";
const domainName = `(?:${domainComponent}(?:\\.${domainComponent})*|${ipv6})`;
const domain = `${domainName}(?::[0-9]+)?`;
const tag = "[\\w][\\w.-]{0,127}";
const digest = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}";
const name = `(?:${domain}/)?${pathComponent}(?:/${pathComponent})*`;
const REFERENCE_RE = new RegExp(`^(${name})(?::(${tag}))?(?:@(${digest}))?$`);
const ANCHORED_ID_RE = /^[a-f0-9]{64}$/;
const TAG_RE = new RegExp(`^${tag}$`);

/** A parsed, normalized image reference. */
export interface Reference {
  /** Registry domain as written by users (`docker.io`, `127.0.0.1:5000`). */
  readonly domain: string;
  /** Repository path inside the registry (`library/busybox`). */
  readonly path: string;
  /** Tag, if any (`latest` is filled in when neither tag nor digest is given). */
  readonly tag?: string;
  /** Digest, if any (`sha256:<hex>`). */
  readonly digest?: string;
}

/**
 * Parses a user-supplied reference, normalizing it like `docker pull` does (default domain,
 * `library/` prefix, `latest` tag when neither tag nor digest is given).
 *
 * @example
 * ```ts
 * const ref = parseReference("busybox");
 * // formatReference(ref) === "docker.io/library/busybox:latest"
 * ```
 * @throws {InvalidArgumentError} with docker's wording, e.g. `invalid reference format`.
 */
export function parseReference(input: string, options: { defaultTag?: boolean } = {}): Reference {
  const ref = parseNormalized(input);
  if (ref.tag === undefined && ref.digest === undefined && options.defaultTag !== false) {
    return { ...ref, tag: "latest" };
  }
  return ref;
}

function parseNormalized(input: string): Reference {
  if (ANCHORED_ID_RE.test(input)) {
    throw new InvalidArgumentError(
      `invalid repository name (${input}), cannot specify 64-byte hexadecimal strings`,
    );
  }
  const [dom, remainder] = splitDomain(input);
  const tagSep = remainder.indexOf(":");
  const remoteName = tagSep > -1 ? remainder.slice(0, tagSep) : remainder;
  if (remoteName.toLowerCase() !== remoteName) {
    throw new InvalidArgumentError(
      `invalid reference format: repository name (${remoteName}) must be lowercase`,
    );
  }
  return parseFull(`${dom}/${remainder}`);
}

function splitDomain(input: string): [string, string] {
  const i = input.indexOf("/");
  let dom: string;
  let remainder: string;
  const first = input.slice(0, i);
  if (
    i === -1 ||
    (!/[.:]/.test(first) && first !== "localhost" && first.toLowerCase() === first)
  ) {
    dom = DEFAULT_DOMAIN;
    remainder = input;
  } else {
    dom = first;
    remainder = input.slice(i + 1);
  }
  if (dom === LEGACY_DOMAIN) dom = DEFAULT_DOMAIN;
  if (dom === DEFAULT_DOMAIN && !remainder.includes("/")) remainder = OFFICIAL_PREFIX + remainder;
  return [dom, remainder];
}

function parseFull(s: string): Reference {
  const m = REFERENCE_RE.exec(s);
  if (m === null) {
    if (s === "") {
      throw new InvalidArgumentError("repository name must have at least one component");
    }
    if (REFERENCE_RE.test(s.toLowerCase())) {
      throw new InvalidArgumentError("invalid reference format: repository name must be lowercase");
    }
    throw new InvalidArgumentError("invalid reference format");
  }
  const fullName = m[1];
  if (fullName.length > NAME_TOTAL_LENGTH_MAX) {
    throw new InvalidArgumentError(
      `repository name must not be more than ${NAME_TOTAL_LENGTH_MAX} characters`,
    );
  }
  const slash = fullName.indexOf("/");
  const ref: { domain: string; path: string; tag?: string; digest?: string } = {
    domain: fullName.slice(0, slash),
    path: fullName.slice(slash + 1),
  };
  if (m[2] !== undefined) ref.tag = m[2];
  if (m[3] !== undefined) {
    validateDigest(m[3]);
    ref.digest = m[3];
  }
  return ref;
}

/**
 * Checks a digest string (`sha256:<64 hex>`).
 *
 * @throws {InvalidArgumentError} when the algorithm is not sha256 or the hex is malformed.
 */
export function validateDigest(d: string): void {
  const colon = d.indexOf(":");
  const algo = d.slice(0, colon);
  const hex = d.slice(colon + 1);
  if (colon < 1 || algo !== "sha256") {
    throw new InvalidArgumentError(`invalid reference format: unsupported digest algorithm "${d}"`);
  }
  if (!/^[a-f0-9]{64}$/.test(hex)) {
    throw new InvalidArgumentError(
      `invalid reference format: invalid checksum digest format "${d}"`,
    );
  }
}

/** Checks a bare tag (as given to `docker tag SRC repo:TAG`). */
export function isValidTag(t: string): boolean {
  return TAG_RE.test(t);
}

/** The repository name in full form: `docker.io/library/busybox`. */
export function repositoryName(ref: Reference): string {
  return `${ref.domain}/${ref.path}`;
}

/** The repository name in familiar form: `busybox`, `foo/bar`, `127.0.0.1:5000/busybox`. */
export function familiarName(ref: Reference): string {
  if (ref.domain !== DEFAULT_DOMAIN) return `${ref.domain}/${ref.path}`;
  const p = ref.path;
  if (p.startsWith(OFFICIAL_PREFIX) && p.indexOf("/", OFFICIAL_PREFIX.length) === -1) {
    return p.slice(OFFICIAL_PREFIX.length);
  }
  return p;
}

function suffix(ref: Reference): string {
  return (ref.tag !== undefined ? `:${ref.tag}` : "") +
    (ref.digest !== undefined ? `@${ref.digest}` : "");
}

/** Full string form: `docker.io/library/busybox:latest`. */
export function formatReference(ref: Reference): string {
  return repositoryName(ref) + suffix(ref);
}

/** Familiar string form as docker prints it: `busybox:latest`, `127.0.0.1:5000/busybox:latest`. */
export function familiar(ref: Reference): string {
  return familiarName(ref) + suffix(ref);
}

/** The host to contact for a reference's registry (`docker.io` → `registry-1.docker.io`). */
export function registryHost(ref: Reference): string {
  return ref.domain === DEFAULT_DOMAIN ? DEFAULT_REGISTRY_HOST : ref.domain;
}

/** Tag or digest to ask the registry for (digest wins, as docker does for `name:tag@digest`). */
export function manifestReference(ref: Reference): string {
  return ref.digest ?? ref.tag ?? "latest";
}
