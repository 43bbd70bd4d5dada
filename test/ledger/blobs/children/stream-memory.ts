/**
 * Child process for memory.test.ts: chunks (argv[2] = "chunk") or puts
 * ("put", into the store at argv[4]) a generated stream of argv[3] MiB, then
 * prints its peak RSS as JSON. Each 1 MiB piece is fresh pseudo-random data.
 */
import { randomFillSync } from "node:crypto";
import { openBlobStore } from "../../../../ledger/blobs/blob-store.ts";
import { chunkStream } from "../../../../ledger/blobs/chunk-stream.ts";
import { DEFAULT_CHUNKER } from "../../../../ledger/blobs/chunker-params.ts";
import { FastCdcCutter } from "../../../../ledger/blobs/fastcdc.ts";

const [mode, mib, dataDir] = [process.argv[2], Number(process.argv[3]), process.argv[4]];

async function* generated() {
  // A fresh buffer per piece, as a real reader gives: nothing is reused that
  // the store might wrongly hold on to.
  for (let k = 0; k < mib; k++) yield randomFillSync(Buffer.allocUnsafe(1 << 20));
}

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
