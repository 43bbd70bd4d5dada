/**
 * Every failure a user can act on is a `GdoError` subclass with a stable `code`
 * (equal to the class name's kebab form) and structured `data`. Callers branch
 * on `err.code`, never on message text; the CLI maps codes to exit codes in one place.
 */
export class GdoError extends Error {
  readonly code: string;
  readonly data: Record<string, unknown>;

  constructor(
    code: string,
    message: string,
    data: Record<string, unknown> = {},
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.data = data;
  }
}

/** The input (a file, an object, a field) is malformed. */
export class FormatError extends GdoError {
  constructor(message: string, data: Record<string, unknown> = {}, options?: ErrorOptions) {
    super("format-error", message, data, options);
  }
}

/** Something that was asked for does not exist (a ref, an object, a key file). */
export class NotFoundError extends GdoError {
  constructor(message: string, data: Record<string, unknown> = {}, options?: ErrorOptions) {
    super("not-found", message, data, options);
  }
}

/** The command line itself is wrong: unknown flag, missing argument. */
export class UsageError extends GdoError {
  constructor(message: string, data: Record<string, unknown> = {}) {
    super("usage", message, data);
  }
}

/**
 * Base of every "the data does not verify" failure: a bad signature, a block
 * that breaks policy, a chunk whose bytes do not match its id. The CLI exits 1
 * for these, so scripts can tell "invalid" from "could not run" (exit 3).
 */
export class VerificationError extends GdoError {}
