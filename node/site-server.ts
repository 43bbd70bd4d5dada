/**
 * The site, as a pluggable part of the node's HTTP server. The default serves
 * a built `dist/` folder as static files; the site's own integration can
 * replace it (e.g. rebuilding when main moves) by passing another
 * `SitePlugin` to `startNode`, without touching the node.
 */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { extname, join, resolve, sep } from "node:path";

export interface SitePlugin {
  name: string;
  /** Answers a GET or HEAD; resolves false when it has nothing at that path. */
  handle(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
  /** Local main moved to `head` (after a sync, a merge or a local write). */
  onMainMoved?(input: { head: string; gitdir: string }): void | Promise<void>;
  close?(): Promise<void>;
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".webp": "image/webp",
  ".ico": "image/x-icon",
  ".txt": "text/plain; charset=utf-8",
  ".xml": "application/xml",
  ".pdf": "application/pdf",
  ".woff2": "font/woff2",
  ".wasm": "application/wasm",
  ".pf_meta": "application/octet-stream",
};

/** Serves files under `dir` (if it exists); `/x/` → `/x/index.html`, `/x` → `/x.html` or `/x/index.html`. */
export function staticSite({ dir }: { dir: string }): SitePlugin {
  const root = resolve(dir);
  const find = async (urlPath: string): Promise<string | undefined> => {
    let decoded: string;
    try {
      decoded = decodeURIComponent(urlPath);
    } catch {
      return undefined;
    }
    if (decoded.includes("\0")) return undefined;
    const base = resolve(root, `.${decoded}`);
    if (base !== root && !base.startsWith(root + sep)) return undefined;
    for (const candidate of [base, `${base}.html`, join(base, "index.html")]) {
      const info = await stat(candidate).catch(() => undefined);
      if (info?.isFile()) return candidate;
    }
    return undefined;
  };
  return {
    name: "static-dist",
    async handle(req, res) {
      if (req.method !== "GET" && req.method !== "HEAD") return false;
      const url = new URL(req.url ?? "/", "http://localhost");
      const file = await find(url.pathname);
      if (!file) return false;
      const info = await stat(file);
      res.writeHead(200, {
        "content-type": TYPES[extname(file).toLowerCase()] ?? "application/octet-stream",
        "content-length": info.size,
        "x-content-type-options": "nosniff",
      });
      if (req.method === "HEAD") {
        res.end();
        return true;
      }
      createReadStream(file).pipe(res);
      return true;
    },
  };
}
