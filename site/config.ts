/**
 * The Astro configuration of the archive site, shared by `buildSite` (the
 * programmatic build) and `astro.config.mjs` (`npm run dev`). The site's
 * sources live in `site/` (Astro's srcDir); the repository root is its root.
 */
import { fileURLToPath } from "node:url";
import type { AstroInlineConfig } from "astro";
import { gdoSite } from "./integration.ts";
import { registerBuild, type SiteOptions } from "./options.ts";

export const SITE_DIR = fileURLToPath(new URL("./", import.meta.url));
export const ROOT_DIR = fileURLToPath(new URL("../", import.meta.url));

export function siteConfig({
  buildId,
  options,
  outDir,
  cacheDir,
}: {
  buildId: string;
  options: SiteOptions;
  outDir?: string;
  cacheDir?: string;
}): AstroInlineConfig {
  registerBuild(buildId, options);
  return {
    root: ROOT_DIR,
    srcDir: SITE_DIR,
    publicDir: fileURLToPath(new URL("./public/", import.meta.url)),
    ...(outDir ? { outDir } : {}),
    ...(cacheDir ? { cacheDir } : {}),
    base: options.base,
    trailingSlash: "ignore",
    output: "static",
    build: { format: "directory", inlineStylesheets: "always" },
    devToolbar: { enabled: false },
    vite: { logLevel: "error" },
    integrations: [gdoSite({ buildId })],
  } as AstroInlineConfig;
}
