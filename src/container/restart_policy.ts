/**
 * Restart policies (`--restart no|on-failure[:N]|always|unless-stopped`) and Docker's backoff:
 * the delay starts at 100 ms and doubles after each restart, and resets once a run lasted at
 * least 10 s. A container stopped by the user is never restarted by `always`/`unless-stopped`
 * (until the user starts it again); after a daemon restart `always` brings it back, while
 * `unless-stopped` leaves it stopped.
 *
 * @module
 */
import { InvalidArgumentError } from "../errors.ts";

/** A parsed restart policy (inspect's `HostConfig.RestartPolicy`). */
export interface RestartPolicy {
  Name: "no" | "on-failure" | "always" | "unless-stopped";
  /** on-failure only: 0 means unlimited. */
  MaximumRetryCount: number;
}

/** The policy of a container without `--restart`. */
export const NO_RESTART: RestartPolicy = { Name: "no", MaximumRetryCount: 0 };

/** Parses `--restart`'s value (also accepts the API's `{Name, MaximumRetryCount}`). */
export function parseRestartPolicy(
  value: string | { Name?: string; MaximumRetryCount?: number } | undefined | null,
): RestartPolicy {
  if (value === undefined || value === null || value === "") return NO_RESTART;
  if (typeof value === "object") {
    if (!value.Name) return NO_RESTART;
    const p = parseRestartPolicy(value.Name);
    const n = value.MaximumRetryCount ?? 0;
    if (n && p.Name !== "on-failure") {
      throw new InvalidArgumentError(
        `invalid restart policy: maximum retry count can only be used with 'on-failure'`,
      );
    }
    return { ...p, MaximumRetryCount: n };
  }
  const [name, count, ...rest] = value.split(":");
  if (rest.length) throw new InvalidArgumentError(`invalid restart policy format: "${value}"`);
  switch (name) {
    case "no":
    case "always":
    case "unless-stopped":
      if (count !== undefined) {
        throw new InvalidArgumentError(
          `invalid restart policy format: maximum retry count cannot be used with restart policy '${name}'`,
        );
      }
      return { Name: name, MaximumRetryCount: 0 };
    case "on-failure": {
      const n = count === undefined ? 0 : Number(count);
      if (!Number.isInteger(n) || n < 0) {
        throw new InvalidArgumentError(`invalid restart policy format: bad retry count "${count}"`);
      }
      return { Name: name, MaximumRetryCount: n };
    }
    default:
      throw new InvalidArgumentError(`invalid restart policy format: unknown policy "${name}"`);
  }
}

/** The facts a restart decision needs. */
export interface RestartFacts {
  policy: RestartPolicy;
  /** Exit code; null when unknown (exited while no supervisor watched). */
  exitCode: number | null;
  /** `docker stop`/`kill` happened since the last user start. */
  stoppedByUser: boolean;
  /** Restarts so far (reset by a user start). */
  restartCount: number;
  /** How long the last run lasted, in ms. */
  runMs: number;
  /** The previous backoff delay in ms (0 before the first restart). */
  lastDelayMs: number;
  /** Deciding at daemon start rather than at an exit. */
  daemonStart?: boolean;
}

/** A restart decision: null means stay exited. */
export interface RestartDecision {
  delayMs: number;
}

/** Decides whether and when to restart a container after it exited. */
export function decideRestart(f: RestartFacts): RestartDecision | null {
  const { policy } = f;
  if (policy.Name === "no") return null;
  if (f.stoppedByUser) {
    // Docker: a manual stop is forgotten by `always` when the daemon restarts.
    if (!(f.daemonStart && policy.Name === "always")) return null;
  }
  if (policy.Name === "on-failure") {
    // Unknown codes count as failures: the process did not report success.
    if (f.exitCode === 0) return null;
    if (policy.MaximumRetryCount > 0 && f.restartCount >= policy.MaximumRetryCount) return null;
  }
  const delayMs = f.daemonStart || f.runMs >= 10_000 || f.lastDelayMs === 0
    ? 100
    : Math.min(f.lastDelayMs * 2, 60_000);
  return { delayMs: f.daemonStart ? 0 : delayMs };
}
