/**
 * `buildSite`: the archive site of one ledger branch, built to a folder.
 *
 * ```ts
 * const result = await buildSite({ gitdir: ".gdo/ledger.git", outDir: "dist" });
 * for (const d of result.diagnostics) console.warn(formatDiagnostic(d));
 * ```
 *
 * The node calls this when its main branch moves; `npm run build` calls it
 * once. One build runs at a time per process (Astro's build is not reentrant);
 * calls made while one runs wait for it.
 */
import { randomBytes } from "node:crypto";
import { cp, rename, rm } from "node:fs/promises";
import { join, resolve, sep } from "node:path";
import { MAIN } from "../ledger/ledger.ts";
import type { Diagnostic, Plugin } from "../plugins/api.ts";
import { rfcSitePlugin } from "../plugins/rfc/site.ts";
import { ROOT_DIR, siteConfig } from "./config.ts";
import { SiteBuildError, SiteContentError } from "./errors.ts";
import { forgetLedgerViews } from "./ledger-loader.ts";
import { buildState, forgetBuild, normalizeBase } from "./options.ts";
import { readSnapshot } from "./snapshot.ts";

export interface BuildSiteOptions {
  /** The ledger repository (bare git folder). */
  gitdir: string;
  /** Branch to show; default main. */
  ref?: string;
  /** Output folder; replaced by the build once it is complete (built beside it, then swapped in). */
  outDir: string;
  /** URL path the site is served under (default `/`). */
  base?: string;
  /** The node's data folder, for attachments stored in its blob store. */
  dataDir?: string;
  /** Plugins whose sections the site shows (default: the RFC archive). */
  plugins?: readonly Plugin[];
  /** Fail on content errors (lint errors of RFCs on the branch); default false: report only. */
  strict?: boolean;
  /** Astro's log level (default "warn"). */
  logLevel?: "debug" | "info" | "warn" | "error" | "silent";
  /** Astro's cache folder (default: Astro's, `node_modules/.astro`); give each concurrent build its own. */
  cacheDir?: string;
  signal?: AbortSignal;
}

export interface BuildSiteResult {
  outDir: string;
  head: string;
  /** HTML pages written. */
  pages: number;
  /** Files precached by the service worker (pages, assets, search index). */
  files: number;
  rfcs: number;
  diagnostics: Diagnostic[];
  durationMs: number;
  /** Where the time went (ms): reading and verifying the ledger, Astro, and the steps after it. */
  timings: { ledger: number; astro: number; attachments: number; search: number; worker: number };
}

let queue: Promise<unknown> = Promise.resolve();

export function buildSite(options: BuildSiteOptions): Promise<BuildSiteResult> {
  const run = queue.then(
    () => buildOnce(options),
    () => buildOnce(options),
  );
  queue = run.catch(() => {});
  return run;
}

async function buildOnce(options: BuildSiteOptions): Promise<BuildSiteResult> {
  const started = performance.now();
  const { signal } = options;
  signal?.throwIfAborted();
  const gitdir = resolve(options.gitdir);
  const ref = options.ref ?? MAIN;
  const outDir = resolve(options.outDir);
  // Open and verify before Astro starts, so a bad ledger fails fast and clearly.
  const snapshot = await readSnapshot({ gitdir, ref, ...(signal ? { signal } : {}) });
  const ledgerMs = Math.round(performance.now() - started);
  signal?.throwIfAborted();
  const buildId = randomBytes(8).toString("hex");
  process.env.ASTRO_TELEMETRY_DISABLED = "1";
  const { build } = await import("astro");
  // Built beside the target and swapped in when complete, so a server (the
  // node) never serves a half-built site and a failed build leaves the old one.
  // Astro puts its prerender chunks in `<outDir>/.prerender`, but in the shared
  // `<root>/.astro/` when outDir is outside the project, where two concurrent
  // builds would overwrite each other's: such a build runs in a folder of its
  // own under the project and is copied over after.
  const staged = `${outDir}.building-${buildId}`;
  // "Inside" is relative to the project (Astro's root), not the caller's
  // working folder: a node started elsewhere must still build where Astro's
  // chunks can resolve the project's packages.
  const root = resolve(ROOT_DIR);
  const inside = `${outDir}${sep}`.startsWith(`${root}${sep}`);
  const building = inside ? staged : join(root, ".astro", `gdo-site-${buildId}`);
  try {
    const config = siteConfig({
      buildId,
      outDir: building,
      ...(options.cacheDir ? { cacheDir: resolve(options.cacheDir) } : {}),
      options: {
        gitdir,
        ref,
        base: normalizeBase(options.base),
        ...(options.dataDir ? { dataDir: resolve(options.dataDir) } : {}),
        plugins: options.plugins ?? [rfcSitePlugin()],
      },
    });
    try {
      await build({ ...config, configFile: false, logLevel: options.logLevel ?? "warn" });
    } catch (error) {
      throw new SiteBuildError("astro", (error as Error).message, error);
    }
    signal?.throwIfAborted();
    const state = buildState(buildId);
    const diagnostics = state.diagnostics.sort((a, b) =>
      a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line,
    );
    const errors = diagnostics.filter((d) => d.severity === "error");
    if (options.strict && errors.length > 0) {
      throw new SiteContentError(errors.length, formatDiagnostic(errors[0]!));
    }
    await rm(join(building, ".prerender"), { recursive: true, force: true });
    if (!inside) {
      await cp(building, staged, { recursive: true });
      await rm(building, { recursive: true, force: true });
    }
    const previous = `${outDir}.previous-${buildId}`;
    await rename(outDir, previous).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== "ENOENT") throw error;
    });
    await rename(staged, outDir);
    await rm(previous, { recursive: true, force: true });
    const durationMs = Math.round(performance.now() - started);
    const post = state.timings ?? { attachments: 0, search: 0, worker: 0 };
    return {
      outDir,
      head: snapshot.head,
      pages: state.pages ?? 0,
      files: state.files ?? 0,
      rfcs: snapshot.rfcs.length,
      diagnostics,
      durationMs,
      timings: {
        ledger: ledgerMs,
        astro: durationMs - ledgerMs - post.attachments - post.search - post.worker,
        ...post,
      },
    };
  } finally {
    forgetLedgerViews(buildId);
    forgetBuild(buildId);
    await rm(building, { recursive: true, force: true }).catch(() => {});
    await rm(staged, { recursive: true, force: true }).catch(() => {});
  }
}

/** `rfcs/0012-x.md:14:3: warning attachment-missing (field title): reason`. */
export function formatDiagnostic(d: Diagnostic): string {
  const field = d.field ? ` [${d.field}]` : "";
  return `${d.file}:${d.line}:${d.column}: ${d.severity} ${d.ruleId}${field}: ${d.reason}`;
}
