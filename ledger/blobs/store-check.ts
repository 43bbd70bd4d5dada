/**
 * `gdo blob check`: every stored manifest and chunk checked against each
 * other. Without `readData`: manifests verify and parse, and every chunk they
 * reference exists with the right size. With it: every chunk in the store is
 * also re-hashed. Lists every blob a bad or missing chunk affects.
 */
import { GdoError } from "../errors.ts";
import type { ChunkStore } from "./chunk-store.ts";
import { limitConcurrency } from "./limit-concurrency.ts";
import type { Manifest } from "./manifest.ts";

export interface CheckReport {
  readData: boolean;
  blobs: number;
  chunks: number;
  /** Bytes re-hashed (readData only). */
  checkedBytes: number;
  badManifests: { id: string; reason: string }[];
  missingChunks: { chunk: string; blobs: string[] }[];
  corruptChunks: { chunk: string; reason: string; blobs: string[] }[];
  /** Every blob that cannot be read back intact. */
  affectedBlobs: string[];
  strayFiles: string[];
  /** Chunk packs whose index does not verify (their chunks count as missing). */
  damagedPacks: { path: string; reason: string }[];
  ok: boolean;
}

export async function checkStore({
  manifests,
  store,
  readData,
  signal,
}: {
  /** The store's manifests, by id; unreadable ones carry `error`. */
  manifests: AsyncIterable<{ id: string; manifest?: Manifest; error?: Error }>;
  store: ChunkStore;
  readData: boolean;
  signal?: AbortSignal | undefined;
}): Promise<CheckReport> {
  const report: CheckReport = {
    readData,
    blobs: 0,
    chunks: 0,
    checkedBytes: 0,
    badManifests: [],
    missingChunks: [],
    corruptChunks: [],
    affectedBlobs: [],
    strayFiles: [],
    damagedPacks: [],
    ok: true,
  };
  // chunk id → expected length and the blobs that use it
  const wanted = new Map<string, { length: number; blobs: string[] }>();
  for await (const entry of manifests) {
    if (!entry.manifest) {
      report.badManifests.push({ id: entry.id, reason: entry.error!.message });
      continue;
    }
    report.blobs++;
    for (const c of entry.manifest.chunks) {
      const w = wanted.get(c.id);
      if (!w) wanted.set(c.id, { length: c.length, blobs: [entry.id] });
      else if (w.blobs.at(-1) !== entry.id) w.blobs.push(entry.id);
    }
  }
  const seen = new Set<string>();
  const limit = limitConcurrency(4);
  const jobs: Promise<void>[] = [];
  const corrupt = (chunk: string, reason: string) =>
    report.corruptChunks.push({ chunk, reason, blobs: wanted.get(chunk)?.blobs ?? [] });
  for await (const file of store.list((p) => report.strayFiles.push(p))) {
    signal?.throwIfAborted();
    seen.add(file.id);
    report.chunks++;
    const w = wanted.get(file.id);
    if (w && file.size !== w.length) {
      corrupt(file.id, `file has ${file.size} bytes, manifests say ${w.length}`);
      continue;
    }
    if (readData) {
      jobs.push(
        limit(async () => {
          try {
            const bytes = await store.read(file.id);
            report.checkedBytes += bytes.length;
          } catch (error) {
            if (!(error instanceof GdoError)) throw error;
            corrupt(file.id, (error as Error).message);
          }
        }),
      );
    }
  }
  await Promise.all(jobs);
  await store.packs.refresh();
  for (const [path, reason] of store.packs.damaged) report.damagedPacks.push({ path, reason });
  for (const [chunk, w] of wanted) {
    if (!seen.has(chunk)) report.missingChunks.push({ chunk, blobs: w.blobs });
  }
  const affected = new Set<string>();
  for (const c of [...report.missingChunks, ...report.corruptChunks]) {
    for (const b of c.blobs) affected.add(b);
  }
  for (const m of report.badManifests) affected.add(m.id);
  report.affectedBlobs = [...affected].sort();
  report.corruptChunks.sort((a, b) => a.chunk.localeCompare(b.chunk));
  report.ok =
    report.damagedPacks.length === 0 &&
    report.badManifests.length === 0 &&
    report.missingChunks.length === 0 &&
    report.corruptChunks.length === 0;
  return report;
}
