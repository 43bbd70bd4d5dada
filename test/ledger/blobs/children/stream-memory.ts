/**
 * Child process for memory.test.ts: chunks (argv[2] = "chunk") or puts
 * ("put", into the store at argv[4]) a generated stream of argv[3] MiB, then
 * prints its peak RSS as JSON. The stream is fresh pseudo-random data read
 * like a file (straight into the chunker's blocks), as `gdo blob put FILE` does.
 */
import { randomFillSync } from "node:crypto";
import { openBlobStore } from "../../../../ledger/blobs/blob-store.ts";
import { chunkStream } from "../../../../ledger/blobs/chunk-stream.ts";
import { DEFAULT_CHUNKER } from "../../../../ledger/blobs/chunker-params.ts";
import { FastCdcCutter } from "../../../../ledger/blobs/fastcdc.ts";

const [mode, mib, dataDir] = [process.argv[2], Number(process.argv[3]), process.argv[4]];

let left = mib * 1024 * 1024;
const generated = () => ({
  async read(into: Uint8Array, offset: number, length: number) {
    const n = Math.min(length, left, 1 << 20);
    randomFillSync(into, offset, n);
    left -= n;
    return n;
  },
});

let chunks = 0;
let bytes = 0;
if (mode === "chunk") {
  for await (const batch of chunkStream({
    source: generated(),
    cutter: new FastCdcCutter(DEFAULT_CHUNKER),
  })) {
    chunks += batch.chunks.length;
    bytes += batch.data.length;
    batch.release();
  }
} else {
  const store = await openBlobStore({ dataDir: dataDir! });
  const result = await store.put({ source: generated() });
  chunks = result.manifest.chunks.length;
  bytes = result.manifest.size;
  await store.close();
}
const maxRssMiB = process.resourceUsage().maxRSS / 1024;
process.stdout.write(`${JSON.stringify({ mode, bytes, chunks, maxRssMiB })}\n`);
