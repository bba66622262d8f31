/**
 * The error of a `--format` template. Its own module: every command's error reporting checks
 * for it, and only the commands that format load the template engine.
 *
 * @module
 */

/** A template that failed to parse or execute; the message is one line. */
export class TemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TemplateError";
  }
}
