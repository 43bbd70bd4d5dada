import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { openBlobStore } from "../../../ledger/blobs/blob-store.ts";
import {
  buildAndSave,
  makeImageContext,
  patchImageContext,
} from "../../../scripts/container-image.ts";
import { needs } from "../../helpers/system.ts";

/**
 * Real container images: two versions of a small image built by the local
 * Docker engine (FROM scratch, no registry needed) that differ by one file,
 * saved with `docker save` and put into one store. The second version must add
 * at most 5% of its size: the tarball is mostly the same bytes at shifted
 * offsets, which is what content-defined chunking is for.
 */

const dirs: string[] = [];
const tags: string[] = [];
after(() => {
  for (const tag of tags) {
    try {
      execFileSync("docker", ["rmi", "-f", tag], { stdio: "ignore" });
    } catch {}
  }
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function build(context: string, tag: string, out: string) {
  tags.push(tag);
  buildAndSave(context, tag, out);
}

describe("blob store with real container images", () => {
  it("should store a second image version that differs by one file in at most 5% more bytes", {
    skip: needs("docker"),
  }, async (t) => {
    const work = mkdtempSync(join(tmpdir(), "gdo-blob-docker-"));
    dirs.push(work);
    const context = join(work, "context");
    makeImageContext(context);
    const name = `gdo-blob-test-${process.pid}`;
    build(context, `${name}:v1`, join(work, "v1.tar"));
    patchImageContext(context);
    build(context, `${name}:v2`, join(work, "v2.tar"));

    const store = await openBlobStore({ dataDir: join(work, "data") });
    try {
      const put = async (file: string) => {
        const handle = await (await import("node:fs/promises")).open(file, "r");
        try {
          return await store.put({
            source: {
              read: async (into, offset, length) =>
                (await handle.read(into, offset, length, null)).bytesRead,
            },
          });
        } finally {
          await handle.close();
        }
      };
      const v1 = await put(join(work, "v1.tar"));
      const v2 = await put(join(work, "v2.tar"));
      const size1 = statSync(join(work, "v1.tar")).size;
      const size2 = statSync(join(work, "v2.tar")).size;
      assert.equal(v1.manifest.size, size1);
      assert.equal(v2.manifest.size, size2);
      const stats = await store.stats();
      const ratio = v2.newBytes / size2;
      t.diagnostic(
        `v1 ${size1} bytes (${v1.manifest.chunks.length} chunks); v2 ${size2} bytes, ${v2.newChunks} new chunks, ${v2.newBytes} new bytes = ${(ratio * 100).toFixed(2)}%; logical ${stats.logicalBytes}, stored ${stats.storedBytes}, dedup ${stats.dedupRatio.toFixed(2)}`,
      );
      assert.ok(size1 > 10_000_000, `the image is ${size1} bytes`);
      assert.ok(ratio <= 0.05, `v2 added ${(ratio * 100).toFixed(2)}% of its size`);
      assert.equal(stats.logicalBytes, size1 + size2);
      assert.equal(stats.storedBytes, v1.newBytes + v2.newBytes);
      const back: Uint8Array[] = [];
      for await (const piece of store.get({ id: v2.id })) back.push(piece);
      assert.ok(Buffer.concat(back).equals(readFileSync(join(work, "v2.tar"))));
    } finally {
      await store.close();
    }
  });
});
