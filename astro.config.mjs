// `npm run dev`: Astro's dev server over the ledger at GDO_LEDGER (or .gdo/ledger.git).
// `npm run build` does not use this file: it calls buildSite() (site/build.ts), which adds
// the offline search index and service worker after Astro's build.
import { resolve } from "node:path";
import { defineConfig } from "astro/config";
import { rfcSitePlugin } from "./plugins/rfc/site.ts";
import { siteConfig } from "./site/config.ts";
import { normalizeBase } from "./site/options.ts";

const dataDir = resolve(process.env.GDO_DATA ?? ".gdo");
const config = siteConfig({
  buildId: "dev",
  options: {
    gitdir: resolve(process.env.GDO_LEDGER ?? `${dataDir}/ledger.git`),
    ref: process.env.GDO_REF ?? "refs/heads/main",
    base: normalizeBase(process.env.GDO_SITE_BASE),
    dataDir,
    plugins: [rfcSitePlugin()],
    offline: false,
  },
});
const { root: _root, ...rest } = config;
export default defineConfig(rest);
