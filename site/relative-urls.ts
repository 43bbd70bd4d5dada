/**
 * Makes the built pages' internal URLs relative, so that the site works from
 * a copied folder under any path of any static server, whatever `base` it was
 * built with:
 *
 * ```
 * rfcs/12/index.html:  href="/rfcs/3/"   →  href="../../rfcs/3/"
 * index.html:          src="/_astro/x.js" →  src="./_astro/x.js"
 * ```
 *
 * Only attribute values starting with the base are rewritten (`href`, `src`,
 * and the `gdo-base` meta the browser scripts resolve against the page's URL);
 * protocol-relative (`//host`) and external URLs are left alone. `404.html`
 * keeps absolute URLs: a server shows it at any depth.
 */
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join, relative, sep } from "node:path";

export async function relativizeUrls({
  outDir,
  base,
}: {
  outDir: string;
  base: string;
}): Promise<{ pages: number }> {
  const entries = await readdir(outDir, { recursive: true, withFileTypes: true });
  const pattern = new RegExp(`(\\s(?:href|src|content)=")${escapeRegExp(base)}(?!/)`, "g");
  let pages = 0;
  for (const entry of entries) {
    if (!entry.isFile() || !entry.name.endsWith(".html")) continue;
    const path = join(entry.parentPath, entry.name);
    const rel = relative(outDir, path).split(sep).join("/");
    if (rel === "404.html") continue;
    const depth = rel.split("/").length - 1;
    const prefix = depth === 0 ? "./" : "../".repeat(depth);
    const html = await readFile(path, "utf8");
    const rewritten = html.replace(pattern, `$1${prefix}`);
    if (rewritten !== html) await writeFile(path, rewritten);
    pages++;
  }
  return { pages };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
