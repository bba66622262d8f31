/**
 * Error categories. Each maps to a CLI exit code and an HTTP status; code never matches on
 * message text. Messages: sentence case, no trailing period, values quoted, action first.
 *
 * @module
 */

/** The category of a {@link DockerTsError}. */
export type ErrorKind =
  | "NotFound"
  | "Conflict"
  | "InvalidArgument"
  | "InvalidState"
  | "NotImplemented"
  | "Unavailable"
  | "Unauthorized"
  | "Internal";

const HTTP_STATUS: Record<ErrorKind, number> = {
  NotFound: 404,
  Conflict: 409,
  InvalidArgument: 400,
  InvalidState: 409,
  NotImplemented: 501,
  Unavailable: 503,
  Unauthorized: 401,
  Internal: 500,
};

/** Base class of every error docker-ts raises on purpose. */
export class DockerTsError extends Error {
  /** The category, which decides the exit code and HTTP status. */
  readonly kind: ErrorKind;
  constructor(kind: ErrorKind, message: string, options?: ErrorOptions) {
    super(message, options);
    this.kind = kind;
    this.name = `${kind}Error`;
  }
  /** HTTP status for the Engine API. */
  get httpStatus(): number {
    return HTTP_STATUS[this.kind];
  }
}

/** Something named does not exist (container, image, blob, network). */
export class NotFoundError extends DockerTsError {
  constructor(message: string, options?: ErrorOptions) {
    super("NotFound", message, options);
  }
}
/** A name or resource is already taken. */
export class ConflictError extends DockerTsError {
  constructor(message: string, options?: ErrorOptions) {
    super("Conflict", message, options);
  }
}
/** Input failed validation. */
export class InvalidArgumentError extends DockerTsError {
  constructor(message: string, options?: ErrorOptions) {
    super("InvalidArgument", message, options);
  }
}
/** The operation is not allowed in the object's current state. */
export class InvalidStateError extends DockerTsError {
  constructor(message: string, options?: ErrorOptions) {
    super("InvalidState", message, options);
  }
}
/** The feature is recognised but not supported. */
export class NotImplementedError extends DockerTsError {
  constructor(message: string, options?: ErrorOptions) {
    super("NotImplemented", message, options);
  }
}
/** A remote (registry, daemon) cannot be reached or failed. */
export class UnavailableError extends DockerTsError {
  constructor(message: string, options?: ErrorOptions) {
    super("Unavailable", message, options);
  }
}
/** Authentication or authorization was refused. */
export class UnauthorizedError extends DockerTsError {
  constructor(message: string, options?: ErrorOptions) {
    super("Unauthorized", message, options);
  }
}
/** An invariant broke or the kernel refused; a bug or an environment problem. */
export class InternalError extends DockerTsError {
  constructor(message: string, options?: ErrorOptions) {
    super("Internal", message, options);
  }
}

/** Exit code for the container process that could not be executed (permission, format). */
export const EXIT_CANNOT_EXECUTE = 126;
/** Exit code for a container command that was not found. */
export const EXIT_NOT_FOUND = 127;
/** Exit code for an engine error. */
export const EXIT_ENGINE_ERROR = 125;

/** One-line text for any thrown value, with the causes' messages appended. */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  let text = err.message;
  let cause = err.cause;
  let depth = 0;
  while (cause instanceof Error && depth < 4) {
    if (!text.includes(cause.message)) text += `: ${cause.message}`;
    cause = cause.cause;
    depth++;
  }
  return text.replace(/\s*\n\s*/g, " ");
}
