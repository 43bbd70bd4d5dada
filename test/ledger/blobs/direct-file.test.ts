import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { constants, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { DirectFileWriter } from "../../../ledger/blobs/direct-file.ts";

/** Creates `path`, writes `set` in order and finishes it. */
function writeNew(writer: DirectFileWriter, path: string, set: Uint8Array[], mode: number): void {
  const file = writer.create(path, mode);
  for (const part of set) file.append(part);
  file.finish();
}

import { tempDir } from "../../helpers/blob-store.ts";

/** Parts of awkward sizes: empty, one byte, unaligned, and more than a staging buffer of 8 KiB. */
function parts(): Uint8Array[] {
  return [0, 1, 4095, 4097, 20_000, 0, 8192, 3].map((n) => randomBytes(n));
}

describe("DirectFileWriter", () => {
  for (const direct of [true, false]) {
    it(`should write the parts in order, fsynced, with mode kept (${direct ? "direct where the filesystem allows" : "through the page cache"})`, () => {
      const dir = tempDir();
      const writer = new DirectFileWriter({ direct, stagingBytes: 8192 });
      for (const [k, set] of [parts(), parts(), [randomBytes(8192)]].entries()) {
        const path = join(dir, `f${k}`);
        writeNew(writer, path, set, 0o444);
        assert.deepEqual(readFileSync(path), Buffer.concat(set), `file ${k}`);
        assert.equal(statSync(path).mode & 0o777, 0o444);
      }
      if (direct && constants.O_DIRECT !== undefined) {
        // The tests' temp folder is on a disk filesystem (ext4 here and in CI), which takes them.
        assert.equal(writer.direct, true, "direct writes were used");
      } else {
        assert.equal(writer.direct, false);
      }
    });
  }

  for (const direct of [true, false]) {
    it(`should write a file part by part, or remove it when discarded (${direct ? "direct" : "page cache"})`, () => {
      const dir = tempDir();
      const writer = new DirectFileWriter({ direct, stagingBytes: 8192 });
      const path = join(dir, "kept");
      const file = writer.create(path, 0o444);
      const set = parts();
      for (const part of set) file.append(part);
      file.finish();
      assert.deepEqual(readFileSync(path), Buffer.concat(set));
      const dropped = writer.create(join(dir, "dropped"), 0o444);
      dropped.append(randomBytes(10_000));
      dropped.discard();
      dropped.discard();
      assert.deepEqual(readdirSync(dir), ["kept"]);
    });
  }

  it("should refuse a path that exists and leave that file as it was", () => {
    const dir = tempDir();
    const path = join(dir, "taken");
    writeFileSync(path, "old");
    for (const direct of [true, false]) {
      const writer = new DirectFileWriter({ direct });
      assert.throws(() => writeNew(writer, path, [randomBytes(100)], 0o444), { code: "EEXIST" });
      assert.equal(readFileSync(path, "utf8"), "old");
    }
    assert.deepEqual(readdirSync(dir), ["taken"]);
  });

  it("should refuse a staging size that is not a multiple of 4,096", () => {
    assert.throws(() => new DirectFileWriter({ stagingBytes: 5000 }), RangeError);
  });
});
