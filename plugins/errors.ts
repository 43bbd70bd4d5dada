import { GdoError } from "../ledger/errors.ts";

/** Two loaded plugins own overlapping paths, or share a name. */
export class PluginConflictError extends GdoError {
  constructor(message: string, data: Record<string, unknown> = {}) {
    super("plugin-conflict", message, data);
  }
}

/** A plugin module could not be imported, or does not export a plugin factory. */
export class PluginLoadError extends GdoError {
  constructor(message: string, data: Record<string, unknown> = {}, options?: ErrorOptions) {
    super("plugin-load", message, data, options);
  }
}

/** A validator read a path outside the globs it owns or declared in `reads`. */
export class PluginAccessError extends GdoError {
  constructor(message: string, data: Record<string, unknown> = {}) {
    super("plugin-access", message, data);
  }
}
