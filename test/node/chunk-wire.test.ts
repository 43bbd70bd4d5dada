import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MAX_GET_IDS, parseGetIds } from "../../node/chunk-wire.ts";
import { ProtocolError } from "../../node/errors.ts";

const id = (n: number) => n.toString(16).padStart(64, "0");

describe("chunk wire", () => {
  it("should accept a GET's ids as given, up to the limit", () => {
    const ids = Array.from({ length: MAX_GET_IDS }, (_, k) => id(k));
    assert.deepEqual(parseGetIds(ids), ids);
    assert.deepEqual(parseGetIds([]), []);
  });

  it("should refuse ids that are not 64 lowercase hex strings, or too many", () => {
    const refused = [
      undefined,
      id(1),
      [id(0xabc).toUpperCase()],
      [id(1).slice(1)],
      [`${id(1)}\n`],
      // Its string form is a valid id: a regular expression alone would pass it.
      [[id(1)]],
      [Number.parseInt("1", 10)],
      Array.from({ length: MAX_GET_IDS + 1 }, (_, k) => id(k)),
    ];
    for (const ids of refused) {
      assert.throws(() => parseGetIds(ids), ProtocolError, JSON.stringify(ids)?.slice(0, 80));
    }
  });
});
