import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { type BlobStore, openBlobStore } from "../../ledger/blobs/blob-store.ts";

export const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

// Stores are closed before their folders are removed, once, after the file's tests.
const dirs: string[] = [];
const stores: BlobStore[] = [];
after(async () => {
  await Promise.all(stores.map((s) => s.close()));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A fresh data folder, removed after the file's tests. */
export function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "gdo-blobs-"));
  dirs.push(d);
  return d;
}

/** A blob store on `dataDir` (default: a fresh one), closed after the file's tests. */
export async function openStore(
  dataDir = tempDir(),
  extra: Partial<Parameters<typeof openBlobStore>[0]> = {},
): Promise<BlobStore> {
  const store = await openBlobStore({ dataDir, ...extra });
  stores.push(store);
  return store;
}
