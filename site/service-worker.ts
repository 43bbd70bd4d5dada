/**
 * Writes `sw.js`, the service worker that makes the built site work offline.
 *
 * ```
 * first visit ──► register sw.js ──► install: fetch every file of this build (paths
 *                                    relative to the worker's scope) into
 *                                      cache "gdo-site-<version>" (version = hash of
 *                                      every file's path and bytes)
 *                                    activate: delete every other gdo-site-* cache
 * any request ──► same origin GET? ──► cache (path, query ignored; "/x/" → "/x/index.html")
 *                                      └─ miss: network; offline navigation: 404 page
 * ```
 *
 * Query strings are ignored when matching because Pagefind adds cache-busting
 * parameters (`pagefind-entry.json?ts=…`) to its own requests: an exact match
 * would miss the precached file and search would fail with the network cut.
 */
import { createHash } from "node:crypto";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join, relative, sep } from "node:path";

export const SERVICE_WORKER = "sw.js";

export interface ServiceWorkerResult {
  version: string;
  files: number;
  pages: number;
}

export async function writeServiceWorker({
  outDir,
}: {
  outDir: string;
}): Promise<ServiceWorkerResult> {
  const files = (await listFiles(outDir)).filter((f) => f !== SERVICE_WORKER).sort();
  const hash = createHash("sha256");
  for (const file of files) {
    hash.update(file).update("\0");
    hash.update(await readFile(join(outDir, ...file.split("/"))));
  }
  const version = hash.digest("hex").slice(0, 16);
  const paths = files.map((f) => f.split("/").map(encodeURIComponent).join("/"));
  await writeFile(join(outDir, SERVICE_WORKER), workerSource({ version, paths }));
  return { version, files: files.length, pages: files.filter((f) => f.endsWith(".html")).length };
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join("/"));
}

function workerSource({ version, paths }: { version: string; paths: string[] }) {
  return `// gdo archive site service worker (generated; see site/service-worker.ts)
const VERSION = ${JSON.stringify(version)};
const CACHE = "gdo-site-" + VERSION;
// The site's root is wherever this worker was registered: the folder can be served under any path.
const SCOPE = self.registration.scope;
const BASE = new URL(SCOPE).pathname;
const PRECACHE = ${JSON.stringify(paths)}.map((path) => new URL(path, SCOPE).href);

async function precache() {
  const cache = await caches.open(CACHE);
  const queue = PRECACHE.slice();
  const worker = async () => {
    for (let url = queue.shift(); url !== undefined; url = queue.shift()) {
      if (await cache.match(url)) continue;
      for (let attempt = 0; attempt < 3; attempt++) {
        try {
          const response = await fetch(url, { cache: "no-cache" });
          if (response.ok) { await cache.put(url, response); break; }
        } catch {}
      }
    }
  };
  await Promise.all([worker(), worker(), worker(), worker(), worker(), worker()]);
}

self.addEventListener("install", (event) => {
  event.waitUntil(precache().then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) {
      if (key.startsWith("gdo-site-") && key !== CACHE) await caches.delete(key);
    }
    await self.clients.claim();
  })());
});

self.addEventListener("message", (event) => {
  if (event.data === "gdo-site-version") event.source?.postMessage({ version: VERSION });
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || !url.pathname.startsWith(BASE)) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    const path = url.pathname.endsWith("/") ? url.pathname + "index.html" : url.pathname;
    const hit = (await cache.match(path, { ignoreSearch: true })) ??
      (await cache.match(path + "/index.html", { ignoreSearch: true }));
    if (hit) return hit;
    try {
      return await fetch(request);
    } catch (error) {
      if (request.mode === "navigate") {
        const missing = await cache.match(BASE + "404.html");
        if (missing) return missing;
      }
      throw error;
    }
  })());
});
`;
}
