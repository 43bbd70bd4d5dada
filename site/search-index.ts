/**
 * Full-text search that works offline: Pagefind indexes the built HTML (only
 * elements marked `data-pagefind-body`, i.e. RFC texts) into static files
 * under `pagefind/`, which the service worker precaches like any page.
 */
import { close, createIndex } from "pagefind";
import { SiteBuildError } from "./errors.ts";

export async function buildSearchIndex({ outDir }: { outDir: string }): Promise<{ pages: number }> {
  try {
    const { index, errors } = await createIndex({});
    if (!index) throw new SiteBuildError("search index", errors.join("; "));
    const added = await index.addDirectory({ path: outDir });
    if (added.errors.length > 0) throw new SiteBuildError("search index", added.errors.join("; "));
    const written = await index.writeFiles({ outputPath: `${outDir}/pagefind` });
    if (written.errors.length > 0)
      throw new SiteBuildError("search index", written.errors.join("; "));
    return { pages: added.page_count };
  } finally {
    await close();
  }
}
