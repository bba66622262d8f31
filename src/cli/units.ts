/**
 * Human-readable sizes, durations and ids as docker prints them (go-units rules).
 *
 * @module
 */

const SIZE_UNITS = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];

/** Go's `%.3g`: three significant digits, trailing zeros dropped, exponent as `e+03`. */
function formatG3(n: number): string {
  let text = n.toPrecision(3);
  if (text.includes("e")) {
    const [mant, exp] = text.split("e");
    const m = mant.includes(".") ? mant.replace(/\.?0+$/, "") : mant;
    const sign = exp.startsWith("-") ? "-" : "+";
    return `${m}e${sign}${exp.replace(/^[-+]/, "").padStart(2, "0")}`;
  }
  if (text.includes(".")) text = text.replace(/\.?0+$/, "");
  return text;
}

/**
 * Size in docker's style: base 1000, three significant digits.
 *
 * @example
 * ```ts
 * humanSize(4261234); // "4.26MB"
 * ```
 */
export function humanSize(bytes: number): string {
  let size = bytes;
  let unit = 0;
  while (size >= 1000 && unit < SIZE_UNITS.length - 1) {
    size /= 1000;
    unit++;
  }
  return formatG3(size) + SIZE_UNITS[unit];
}

/**
 * A duration in docker's words (`5 seconds`, `About a minute`, `2 hours`, `3 weeks`).
 *
 * @example
 * ```ts
 * humanDuration(90_000); // "About a minute"
 * ```
 */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 1) return "Less than a second";
  if (seconds === 1) return "1 second";
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.floor(ms / 60_000);
  if (minutes === 1) return "About a minute";
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.round(ms / 3_600_000);
  if (hours === 1) return "About an hour";
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(ms / 3_600_000 / 24 / 365)} years`;
}

/** `"2 minutes ago"` for a past instant (docker's CREATED column). */
export function timeAgo(when: Date | string | number, now: number = Date.now()): string {
  const t = when instanceof Date
    ? when.getTime()
    : typeof when === "number"
    ? when
    : Date.parse(when);
  if (!Number.isFinite(t) || t <= 0) return "N/A";
  return `${humanDuration(Math.max(0, now - t))} ago`;
}

/** Docker's 12-character short id, without the `sha256:` prefix. */
export function shortId(id: string): string {
  return id.replace(/^sha256:/, "").slice(0, 12);
}

/** True when a time string is docker's "never happened" value (or empty). */
export function isZeroTime(when: string | undefined | null): boolean {
  return !when || when.startsWith("0001-01-01");
}

/**
 * The STATUS column of `docker ps`: `Created`, `Up 5 seconds`, `Exited (0) 2 minutes ago`.
 */
export function containerStatusText(
  state: {
    Status: string;
    ExitCode?: number;
    StartedAt?: string;
    FinishedAt?: string;
    Paused?: boolean;
  },
  now: number = Date.now(),
): string {
  switch (state.Status) {
    case "running":
      return `Up ${humanDuration(now - Date.parse(state.StartedAt ?? ""))}`;
    case "paused":
      return `Up ${humanDuration(now - Date.parse(state.StartedAt ?? ""))} (Paused)`;
    case "exited":
      if (isZeroTime(state.FinishedAt)) return `Exited (${state.ExitCode ?? 0})`;
      return `Exited (${state.ExitCode ?? 0}) ${timeAgo(state.FinishedAt!, now)}`;
    case "created":
      return "Created";
    case "dead":
      return "Dead";
    case "removing":
      return "Removal In Progress";
    case "restarting":
      return `Restarting (${state.ExitCode ?? 0}) ${timeAgo(state.FinishedAt ?? "", now)}`;
    default:
      return state.Status.charAt(0).toUpperCase() + state.Status.slice(1);
  }
}
