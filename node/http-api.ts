/**
 * The node's local HTTP API, on 127.0.0.1 only. Reads are open to local
 * processes; writes need `Authorization: Bearer <token>`, the token being in
 * `<dataDir>/api-token` (mode 0600), so only the node's own user can write.
 *
 *   GET  /api/status              everything below in one object
 *   GET  /api/peers               peers, scores, bytes moved
 *   GET  /api/heads               local branches and remote-tracking heads
 *   POST /api/write               {message, files:{path:{text}|{base64}}, rm:[path], branch?}
 *   POST /api/blobs?path=P&message=M   body = blob bytes; stores it, commits the pointer file
 *                                      (P ends in .blob, checked before storing; default blobs/<id>.blob)
 *   GET  /api/blobs/<id>          the blob's bytes (verified), 404 when absent or incomplete
 *   anything else                 the site plugin, else 404
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { writeFileAtomic } from "../ledger/atomic-file.ts";
import { InvalidIdError } from "../ledger/blobs/errors.ts";
import { GdoError, UsageError, VerificationError } from "../ledger/errors.ts";
import type { FileEdit } from "../ledger/tree-builder.ts";
import type { SitePlugin } from "./site-server.ts";

export interface NodeApi {
  status(): Promise<unknown>;
  peers(): Promise<unknown>;
  heads(): Promise<unknown>;
  write(input: { message: string; edits: FileEdit[]; branch?: string }): Promise<string>;
  putBlob(input: {
    source: AsyncIterable<Uint8Array>;
    path: string | undefined;
    message: string | undefined;
  }): Promise<{ id: string; path: string; block: string }>;
  readBlob(id: string): AsyncIterable<Uint8Array>;
}

const MAX_WRITE_BODY = 32 * 1024 * 1024;

/** Reads `<dataDir>/api-token`, creating it (0600) on first run. */
export async function apiToken(path: string): Promise<string> {
  try {
    const token = (await readFile(path, "utf8")).trim();
    if (/^[0-9a-f]{64}$/.test(token)) return token;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  const token = randomBytes(32).toString("hex");
  await writeFileAtomic({ path, data: `${token}\n`, mode: 0o600 });
  return token;
}

export class HttpApi {
  readonly #api: NodeApi;
  readonly #token: Buffer;
  readonly #site: SitePlugin | undefined;
  readonly #server: Server;

  constructor({ api, token, site }: { api: NodeApi; token: string; site?: SitePlugin }) {
    this.#api = api;
    this.#token = Buffer.from(token);
    this.#site = site;
    this.#server = createServer((req, res) => {
      this.#route(req, res).catch((error) => this.#fail(res, error));
    });
    // Local clients only; a stalled one must not hold a socket forever.
    this.#server.requestTimeout = 10 * 60_000;
    this.#server.headersTimeout = 30_000;
    this.#server.maxConnections = 64;
  }

  async start({ host = "127.0.0.1", port }: { host?: string; port: number }): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(port, host, () => {
        this.#server.off("error", reject);
        resolve();
      });
    });
    return (this.#server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #authorized(req: IncomingMessage): boolean {
    const header = req.headers.authorization ?? "";
    const given = Buffer.from(header.startsWith("Bearer ") ? header.slice(7).trim() : "");
    return given.length === this.#token.length && timingSafeEqual(given, this.#token);
  }

  async #route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    const path = url.pathname;
    if (req.method === "GET" && path === "/api/status") return json(res, await this.#api.status());
    if (req.method === "GET" && path === "/api/peers") return json(res, await this.#api.peers());
    if (req.method === "GET" && path === "/api/heads") return json(res, await this.#api.heads());
    if (req.method === "GET" && path.startsWith("/api/blobs/")) {
      const id = path.slice("/api/blobs/".length);
      const pieces = this.#api.readBlob(id)[Symbol.asyncIterator]();
      // Read the first piece before the headers: a missing blob is a 404, not a torn 200.
      const first = await pieces.next();
      res.writeHead(200, { "content-type": "application/octet-stream" });
      if (!first.done) res.write(first.value);
      try {
        for (let p = await pieces.next(); !p.done; p = await pieces.next()) {
          if (!res.write(p.value)) await new Promise((r) => res.once("drain", r));
        }
        res.end();
      } catch {
        res.destroy();
      }
      return;
    }
    if (path.startsWith("/api/")) {
      if (req.method !== "POST") return json(res, { error: "not found" }, 404);
      if (!this.#authorized(req))
        return json(res, { error: "missing or wrong token (see <dataDir>/api-token)" }, 401);
      if (path === "/api/write") return json(res, { block: await this.#write(req) });
      if (path === "/api/blobs") {
        const result = await this.#api.putBlob({
          source: req,
          path: url.searchParams.get("path") ?? undefined,
          message: url.searchParams.get("message") ?? undefined,
        });
        return json(res, result);
      }
      return json(res, { error: "not found" }, 404);
    }
    if (this.#site && (await this.#site.handle(req, res))) return;
    res.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
    res.end("not found\n");
  }

  async #write(req: IncomingMessage): Promise<string> {
    const body = await readBody(req, MAX_WRITE_BODY);
    let value: Record<string, unknown>;
    try {
      value = JSON.parse(body.toString("utf8"));
    } catch {
      throw new UsageError("body must be JSON");
    }
    if (typeof value.message !== "string" || value.message.trim() === "")
      throw new UsageError("'message' must be a non-empty string");
    const edits: FileEdit[] = [];
    const files = value.files ?? {};
    if (typeof files !== "object" || files === null || Array.isArray(files))
      throw new UsageError("'files' must be an object of path → {text} or {base64}");
    for (const [path, spec] of Object.entries(files as Record<string, unknown>)) {
      const s = spec as { text?: unknown; base64?: unknown };
      if (typeof s?.text === "string") edits.push({ path, content: Buffer.from(s.text, "utf8") });
      else if (typeof s?.base64 === "string")
        edits.push({ path, content: Buffer.from(s.base64, "base64") });
      else throw new UsageError(`files['${path}'] must be {text} or {base64}`);
    }
    const rm = value.rm ?? [];
    if (!Array.isArray(rm) || !rm.every((p) => typeof p === "string"))
      throw new UsageError("'rm' must be a list of paths");
    for (const path of rm as string[]) edits.push({ path, content: null });
    if (edits.length === 0) throw new UsageError("nothing to write");
    const branch = typeof value.branch === "string" ? value.branch : undefined;
    return this.#api.write({ message: value.message, edits, branch });
  }

  #fail(res: ServerResponse, error: unknown): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    // A malformed request (a blob id that is not one) is the caller's to fix.
    if (error instanceof UsageError || error instanceof InvalidIdError) {
      json(res, { error: error.message, code: error.code }, 400);
      return;
    }
    if (error instanceof GdoError) {
      const status =
        error.code === "not-found" ||
        error.code === "blob-not-found" ||
        error.code === "chunk-missing"
          ? 404
          : error instanceof VerificationError
            ? 422
            : 409;
      json(res, { error: error.message, code: error.code }, status);
      return;
    }
    json(res, { error: "internal error", detail: String((error as Error)?.message ?? error) }, 500);
  }
}

function json(res: ServerResponse, value: unknown, status = 200): void {
  const body = JSON.stringify(value, null, 2);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
  });
  res.end(body);
}

async function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const part of req) {
    size += (part as Buffer).length;
    if (size > max) throw new UsageError(`body larger than ${max} bytes`);
    parts.push(part as Buffer);
  }
  return Buffer.concat(parts);
}
