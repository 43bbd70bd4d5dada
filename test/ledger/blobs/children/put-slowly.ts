/**
 * Child process for crash.test.ts: puts one small blob into the store at
 * argv[2] (published), then an endless stream, writing every temp file in
 * two halves with a pause between so that a SIGKILL from the parent lands
 * while a pack is half written.
 */
import { randomFillSync } from "node:crypto";
import * as fsp from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { openBlobStore } from "../../../../ledger/blobs/blob-store.ts";
import type { StoreFs } from "../../../../ledger/blobs/store-fs.ts";

const slowFs: StoreFs = {
  ...fsp,
  open: (async (...args: Parameters<typeof fsp.open>) => {
    const handle = await fsp.open(...args);
    if (!String(args[0]).endsWith(".tmp")) return handle;
    const write = handle.write.bind(handle) as (
      ...a: unknown[]
    ) => Promise<{ bytesWritten: number }>;
    return Object.assign(handle, {
      // Half the bytes, a pause, then the rest: a kill in the pause leaves a partial temp file.
      write: async (buffer: Uint8Array, offset = 0, length = buffer.length - offset) => {
        const half = Math.floor(length / 2);
        const first = await write(buffer, offset, half);
        await sleep(30);
        const second = await write(buffer, offset + half, length - half);
        return { bytesWritten: first.bytesWritten + second.bytesWritten, buffer };
      },
    });
  }) as StoreFs["open"],
};

async function* endless() {
  for (;;) yield randomFillSync(Buffer.alloc(1 << 20));
}

const store = await openBlobStore({ dataDir: process.argv[2]!, fs: slowFs });
const first = await store.put({ source: [randomFillSync(Buffer.alloc(3 << 20))] });
process.stdout.write(`stored ${first.id}\n`);
await store.put({ source: endless() });
