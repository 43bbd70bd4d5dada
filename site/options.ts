/**
 * The options of one site build, shared between the host process (the
 * integration's hooks) and the modules Astro evaluates in its Vite runner (the
 * content loader). Vite gives those modules fresh instances, so the options
 * live in a registry on `globalThis`, keyed by build id; the virtual module
 * `virtual:gdo-site` tells the content config which id is its own.
 */

import type { Plugin as VitePlugin } from "vite";
import type { Diagnostic, Plugin } from "../plugins/api.ts";
import { globalRegistry } from "./global-registry.ts";

export interface SiteOptions {
  /** The ledger repository. */
  gitdir: string;
  /** The branch shown (default `refs/heads/main`). */
  ref: string;
  /** URL path the site is served under, with leading and trailing `/` (default `/`). */
  base: string;
  /** The node's data folder, whose blob store holds attachments committed as `*.blob` pointers. */
  dataDir?: string;
  /** Plugins whose site sections are injected (the RFC archive by default). */
  plugins: readonly Plugin[];
  /** Build Pagefind's index and the service worker (default true; `astro dev` skips them). */
  offline?: boolean;
  /**
   * Rewrite the pages' internal URLs relative to each page (default true), so
   * the built folder works under any path of any static server. `base` then
   * matters only for the absolute URLs of feeds and JSON.
   */
  relative?: boolean;
}

export interface BuildState {
  options: SiteOptions;
  /** Content problems found during the build (never fatal). */
  diagnostics: Diagnostic[];
  /** Filled by the integration when the build is done. */
  pages?: number;
  files?: number;
  /** Milliseconds spent in the post-build steps. */
  timings?: { attachments: number; search: number; worker: number };
}

type Registry = Map<string, BuildState>;
const registry: Registry = globalRegistry("builds");

export function registerBuild(id: string, options: SiteOptions): BuildState {
  const state: BuildState = { options, diagnostics: [] };
  registry.set(id, state);
  return state;
}

export function buildState(id: string): BuildState {
  const state = registry.get(id);
  if (!state) throw new Error(`gdo site: no build registered as '${id}'`);
  return state;
}

export function forgetBuild(id: string): void {
  registry.delete(id);
}

const VIRTUAL = "virtual:gdo-site";

/** Vite plugin serving `virtual:gdo-site` (`export const buildId = "…"`). */
export function virtualBuildId(id: string): VitePlugin {
  return {
    name: "gdo-site-build-id",
    resolveId: (source) => (source === VIRTUAL ? `\0${VIRTUAL}` : undefined),
    load: (resolved) =>
      resolved === `\0${VIRTUAL}` ? `export const buildId = ${JSON.stringify(id)};` : undefined,
  };
}

/** `/`, `/archive/`: leading and trailing slash, nothing else. */
export function normalizeBase(base: string | undefined): string {
  const trimmed = (base ?? "/").replace(/^\/+|\/+$/g, "");
  return trimmed === "" ? "/" : `/${trimmed}/`;
}
