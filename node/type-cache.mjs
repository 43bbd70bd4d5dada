/**
 * The project's TypeScript with its types stripped ahead of time, so a node
 * process never loads Node's own type stripper. That stripper (swc compiled
 * to WebAssembly) stays loaded for a process's life once it has stripped one
 * file: +16 MB of RSS in every isolate that uses it, the node's main thread
 * and each of its worker threads (measured: a bare process 46 MB, the same
 * having loaded one .ts file 62 MB).
 *
 * Run as a script, it strips every .ts file under the folders a node loads
 * from into `node_modules/.cache/gdo-stripped-types/<sha256 of source>.js`
 * (strip mode: types become blanks, so line and column numbers, and with
 * them stack traces, are those of the source) and removes entries no source
 * has any more. `type-cache-hooks.mjs` serves those files in place of the
 * sources. This file is JavaScript because it must run before any
 * TypeScript is loaded.
 */
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const PROJECT_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
/** `GDO_TYPE_CACHE` moves it (a read-only install, say). */
export const CACHE_DIR =
  process.env.GDO_TYPE_CACHE ?? join(PROJECT_ROOT, "node_modules", ".cache", "gdo-stripped-types");
/** The folders whose modules a node process (and its worker threads) load. */
const SOURCE_DIRS = ["cli", "node", "ledger", "plugins", "site"];

/** Where the stripped form of a source with these bytes is kept. */
export function cachedPath(source) {
  return join(CACHE_DIR, `${createHash("sha256").update(source).digest("hex")}.js`);
}

/** Strips every project source not yet in the cache; drops entries of sources gone or changed. */
export async function fillTypeCache() {
  const { stripTypeScriptTypes } = await import("node:module");
  mkdirSync(CACHE_DIR, { recursive: true });
  const current = new Set();
  for (const file of sources()) {
    const source = readFileSync(file);
    const path = cachedPath(source);
    current.add(path);
    if (existsSync(path)) continue;
    let stripped;
    try {
      stripped = stripTypeScriptTypes(source.toString("utf8"), { mode: "strip" });
    } catch {
      continue; // Node strips (and reports) it itself when it is loaded.
    }
    // Written whole or not at all: several nodes may start at once.
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, stripped);
    renameSync(tmp, path);
  }
  for (const name of readdirSync(CACHE_DIR)) {
    const path = join(CACHE_DIR, name);
    if (name.endsWith(".js") && !current.has(path)) rmSync(path, { force: true });
  }
}

function* sources() {
  for (const dir of SOURCE_DIRS) {
    const root = join(PROJECT_ROOT, dir);
    if (!existsSync(root)) continue;
    for (const entry of readdirSync(root, { recursive: true, withFileTypes: true })) {
      if (entry.isFile() && entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts"))
        yield join(entry.parentPath, entry.name);
    }
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    await fillTypeCache();
  } catch (error) {
    // Not fatal: without the cache Node strips the types itself, at a cost in memory.
    process.stderr.write(
      `gdo: cannot cache stripped types in ${CACHE_DIR} (${error.code ?? error.message}); Node strips them at load, which costs about 16 MB more per thread\n`,
    );
  }
}
