import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { assertHexId, isHexId, isHexIdAt } from "../../../ledger/blobs/hex-id.ts";

const id = "0123456789abcdef".repeat(4);

describe("hex ids", () => {
  it("should accept exactly 64 lowercase hex characters", () => {
    assert.equal(isHexId(id), true);
    assert.equal(isHexId("f".repeat(64)), true);
    assertHexId(id, "chunk");
  });

  it("should refuse anything else, whatever its string form", () => {
    for (const bad of [
      id.toUpperCase(),
      id.slice(1),
      `${id}0`,
      `${id.slice(0, 63)}g`,
      `../${id.slice(3)}`,
      `${id.slice(0, 63)}\n`,
      // Code units above ASCII whose low byte is a hex digit ('a' + 0x100, '0' + 0x80).
      `${id.slice(0, 63)}\u0161`,
      `${id.slice(0, 63)}\u00b0`,
      [id],
      undefined,
      64,
    ]) {
      assert.equal(isHexId(bad), false, JSON.stringify(bad));
      assert.throws(() => assertHexId(bad, "chunk"), { code: "invalid-id" }, JSON.stringify(bad));
    }
  });

  it("should read the same rule from bytes, at an offset, and refuse bytes past the end", () => {
    const bytes = Buffer.from(`x ${id} ${id.toUpperCase()}`, "latin1");
    assert.equal(isHexIdAt(bytes, 2), true);
    assert.equal(isHexIdAt(bytes, 1), false);
    assert.equal(isHexIdAt(bytes, 67), false);
    assert.equal(isHexIdAt(bytes.subarray(0, 65), 2), false);
    // 0xe1 is 'a' + 0x80: not a hex digit as a byte either.
    const high = Buffer.from(id, "latin1");
    high[10] = 0xe1;
    assert.equal(isHexIdAt(high, 0), false);
  });
});
