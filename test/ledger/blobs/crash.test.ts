import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { openBlobStore } from "../../../ledger/blobs/blob-store.ts";

const here = dirname(fileURLToPath(import.meta.url));
const nodeBin = join(here, "..", "..", "..", "node_modules", ".bin", "node");
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function chunkFiles(dataDir: string): [string, string][] {
  const root = join(dataDir, "blobs", "chunks");
  return readdirSync(root).flatMap((fan) =>
    readdirSync(join(root, fan)).map((f): [string, string] => [fan + f, join(root, fan, f)]),
  );
}

describe("blob store crash safety", () => {
  it("should leave no partial chunk under a final name when a put is killed with SIGKILL, and clean temp files on open", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "gdo-blob-crash-"));
    dirs.push(dataDir);
    const child = spawn(nodeBin, [join(here, "children", "put-slowly.ts"), dataDir], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.on("exit", (_, signal) => resolve(signal)),
    );
    const tmp = join(dataDir, "blobs", "tmp");
    // Kill once several chunks are staged (chunks are renamed into place
    // only when the whole blob is cut and flushed).
    const deadline = Date.now() + 30_000;
    for (;;) {
      assert.ok(Date.now() < deadline, "the child never got going");
      await sleep(10);
      try {
        if (readdirSync(tmp).length >= 3) break;
      } catch {}
    }
    child.kill("SIGKILL");
    assert.equal(await exited, "SIGKILL");

    const leftovers = readdirSync(tmp);
    assert.ok(leftovers.length > 0, "the kill left temp files behind");
    for (const [id, path] of chunkFiles(dataDir)) {
      assert.equal(
        createHash("sha256").update(readFileSync(path)).digest("hex"),
        id,
        `${path} is whole`,
      );
    }
    assert.deepEqual(readdirSync(join(dataDir, "blobs", "manifests")), [], "nothing was published");

    const store = await openBlobStore({ dataDir });
    assert.deepEqual(readdirSync(tmp), [], "open removed the dead writer's temp files");
    const report = await store.check({ readData: true });
    assert.equal(report.ok, true);
    // The dead put's registration does not block gc, and its chunks are garbage.
    const gc = await store.gc({ liveManifests: [], graceMs: 0 });
    assert.equal(gc.removedChunks, report.chunks);
    await store.close();
  });
});
