/**
 * Failures of a site build that a user can act on. Content problems (an RFC's
 * front matter, a missing attachment) are never errors: they are diagnostics in
 * the build report, named by file, line and field.
 */
import { GdoError } from "../ledger/errors.ts";

/** The ledger or its branch cannot be opened. */
export class LedgerUnreadableError extends GdoError {
  constructor(gitdir: string, ref: string, cause?: unknown) {
    super(
      "site-ledger-unreadable",
      `cannot read branch ${ref} of the ledger at ${gitdir}: ${(cause as Error | undefined)?.message ?? "not found"}`,
      { gitdir, ref },
      { cause },
    );
  }
}

/** Astro, Pagefind or the service worker step failed. */
export class SiteBuildError extends GdoError {
  constructor(step: string, message: string, cause?: unknown) {
    super("site-build-failed", `site build failed at ${step}: ${message}`, { step }, { cause });
  }
}

/** `--strict` builds stop on content errors; the data lists every one. */
export class SiteContentError extends GdoError {
  constructor(count: number, first: string) {
    super("site-content-invalid", `${count} content error(s) in the archive; first: ${first}`, {
      count,
      first,
    });
  }
}
