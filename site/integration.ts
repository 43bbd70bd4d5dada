/**
 * The site's Astro integration, in the style of Astro's own (`{ name, hooks }`):
 *
 *  - `astro:config:setup` injects every plugin's site section (the RFC archive
 *    is one such plugin; a dapp's section is added the same way) and serves
 *    `virtual:gdo-site` so the content loader finds this build's options;
 *  - `astro:build:done` serves attachments from the ledger and the blob store,
 *    builds the offline search index (Pagefind) and writes the service worker
 *    that precaches every page and file of this build.
 */
import { fileURLToPath } from "node:url";
import type { AstroIntegration } from "astro";
import { copyAttachments } from "./attachments.ts";
import { ledgerView } from "./ledger-loader.ts";
import { buildState, virtualBuildId } from "./options.ts";
import { relativizeUrls } from "./relative-urls.ts";
import { buildSearchIndex } from "./search-index.ts";
import { writeServiceWorker } from "./service-worker.ts";

export function gdoSite({ buildId }: { buildId: string }): AstroIntegration {
  return {
    name: "gdo-site",
    hooks: {
      "astro:config:setup": ({ injectRoute, updateConfig, logger }) => {
        const { options } = buildState(buildId);
        for (const plugin of options.plugins) {
          for (const route of plugin.site?.routes ?? []) {
            injectRoute({ pattern: route.pattern, entrypoint: route.entrypoint, prerender: true });
          }
          if (plugin.site)
            logger.debug(`section '${plugin.site.title}' from plugin ${plugin.name}`);
        }
        updateConfig({ vite: { plugins: [virtualBuildId(buildId)] } });
      },
      "astro:build:done": async ({ dir, logger }) => {
        const state = buildState(buildId);
        const outDir = fileURLToPath(dir);
        const view = await ledgerView(buildId);
        const t0 = performance.now();
        const copied = await copyAttachments({
          outDir,
          snapshot: view.snapshot,
          uses: view.archive.attachments,
          ...(state.options.dataDir ? { dataDir: state.options.dataDir } : {}),
        });
        state.diagnostics.push(...copied.diagnostics);
        if (state.options.relative !== false) {
          await relativizeUrls({ outDir, base: state.options.base });
        }
        const t1 = performance.now();
        if (state.options.offline !== false) {
          const search = await buildSearchIndex({ outDir });
          logger.info(`search index: ${search.pages} pages`);
          const t2 = performance.now();
          const worker = await writeServiceWorker({ outDir });
          state.timings = {
            attachments: Math.round(t1 - t0),
            search: Math.round(t2 - t1),
            worker: Math.round(performance.now() - t2),
          };
          state.pages = worker.pages;
          state.files = worker.files;
          logger.info(`service worker ${worker.version}: ${worker.files} files precached`);
        }
      },
    },
  };
}
