import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { openBlobStore } from "../../../ledger/blobs/blob-store.ts";
import { assertChunksIntact } from "../../helpers/blob-store.ts";

const here = dirname(fileURLToPath(import.meta.url));
const nodeBin = join(here, "..", "..", "..", "node_modules", ".bin", "node");
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("blob store crash safety", () => {
  it("should leave no partial chunk or pack under a final name when a put is killed with SIGKILL, and clean temp files on open", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "gdo-blob-crash-"));
    dirs.push(dataDir);
    const child = spawn(nodeBin, [join(here, "children", "put-slowly.ts"), dataDir], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.on("exit", (_, signal) => resolve(signal)),
    );
    let output = "";
    child.stdout.on("data", (data) => {
      output += data;
    });
    const tmp = join(dataDir, "blobs", "tmp");
    const packs = join(dataDir, "blobs", "packs");
    // Kill once the endless put's pack holds a few MiB (packs are renamed
    // into place only when the whole blob is cut and flushed).
    const deadline = Date.now() + 30_000;
    for (;;) {
      assert.ok(Date.now() < deadline, "the child never got going");
      await sleep(10);
      try {
        if (readdirSync(tmp).some((name) => statSync(join(tmp, name)).size > 4 << 20)) break;
      } catch {}
    }
    child.kill("SIGKILL");
    assert.equal(await exited, "SIGKILL");
    const first = /^stored ([0-9a-f]{64})$/m.exec(output)?.[1];
    assert.ok(first, "the first blob was stored before the kill");

    const leftovers = readdirSync(tmp);
    assert.ok(leftovers.length > 0, "the kill left temp files behind");
    assert.equal(readdirSync(packs).length, 1, "only the first blob's pack was published");
    assertChunksIntact(dataDir);
    assert.deepEqual(readdirSync(join(dataDir, "blobs", "manifests")), [first]);

    const store = await openBlobStore({ dataDir });
    assert.deepEqual(readdirSync(tmp), [], "open removed the dead writer's temp files");
    const report = await store.check({ readData: true });
    assert.equal(report.ok, true);
    assert.equal(report.blobs, 1);
    assert.ok(report.chunks > 0);
    // The dead put's registration does not block gc; with the first blob's
    // manifest no longer live, its chunks are garbage.
    const gc = await store.gc({ liveManifests: [], graceMs: 0 });
    assert.equal(gc.removedChunks, report.chunks);
    assert.deepEqual(readdirSync(packs), []);
    await store.close();
  });
});
