import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { DEFAULT_CHUNKER } from "../../../ledger/blobs/chunker-params.ts";
import {
  attachmentPointerName,
  blobPointerPath,
  type Manifest,
  manifestId,
  parseManifest,
  serializeManifest,
} from "../../../ledger/blobs/manifest.ts";

const hex = (s: string) => createHash("sha256").update(s).digest("hex");
const A = hex("a");
const B = hex("b");

const sample: Manifest = {
  size: 40_000,
  sha256: hex("whole"),
  chunker: { ...DEFAULT_CHUNKER },
  chunks: [
    { id: A, length: 32_768 },
    { id: B, length: 7_232 },
  ],
};

const canonical = [
  "gdo-blob v1",
  "size 40000",
  `sha256 ${hex("whole")}`,
  "chunker fastcdc-2020 min=8192 avg=32768 max=131072 level=2 seed=0",
  "chunks 2",
  `${A} 32768`,
  `${B} 7232`,
  "",
].join("\n");

/** The canonical text with line `n` (1-based) replaced. */
function withLine(n: number, line: string | null): string {
  const lines = canonical.split("\n");
  if (line === null) lines.splice(n - 1, 1);
  else lines[n - 1] = line;
  return lines.join("\n");
}

/**
 * Asserts both inputs are refused alike: bytes (whose well-formed chunk
 * lines are read from the bytes) and the same text as a string.
 */
function refuses(text: string | Uint8Array, field: string, pattern: RegExp) {
  const bytes = typeof text === "string" ? Buffer.from(text, "latin1") : text;
  const inputs: (string | Uint8Array)[] = [bytes];
  if (typeof text === "string") inputs.push(text);
  const messages = inputs.map((input) => {
    let message = "";
    assert.throws(
      () => parseManifest(input, "rfcs/assets/x.png.blob"),
      (e: Error & { code?: string; data?: { field?: string; source?: string } }) => {
        assert.equal(e.code, "manifest-invalid");
        assert.equal(e.data?.field, field, e.message);
        assert.equal(e.data?.source, "rfcs/assets/x.png.blob");
        assert.match(e.message, /^rfcs\/assets\/x\.png\.blob:\d+: /);
        assert.match(e.message, pattern);
        message = e.message;
        return true;
      },
    );
    return message;
  });
  if (messages.length === 2) assert.equal(messages[0], messages[1]);
}

describe("blob manifests", () => {
  it("should serialize to the documented canonical text", () => {
    assert.equal(Buffer.from(serializeManifest(sample)).toString("latin1"), canonical);
  });

  it("should parse what it serializes back to the same manifest and id", () => {
    const bytes = serializeManifest(sample);
    assert.deepEqual(parseManifest(bytes, "t"), sample);
    assert.equal(manifestId(bytes), hex(canonical));
    assert.equal(manifestId(serializeManifest(parseManifest(bytes, "t"))), manifestId(bytes));
  });

  it("should read a large manifest from bytes as it reads the same text", () => {
    const chunks = Array.from({ length: 2000 }, (_, k) => ({
      id: hex(`chunk ${k}`),
      length: 8192 + ((k * 7919) % (131072 - 8192)),
    }));
    const large: Manifest = {
      size: chunks.reduce((sum, c) => sum + c.length, 0),
      sha256: hex("large"),
      chunker: { ...DEFAULT_CHUNKER },
      chunks,
    };
    const bytes = serializeManifest(large);
    assert.deepEqual(parseManifest(bytes, "t"), large);
    assert.deepEqual(parseManifest(Buffer.from(bytes).toString("latin1"), "t"), large);
    // The last line malformed, after 1,999 good ones: named by its line.
    const text = Buffer.from(bytes)
      .toString("latin1")
      .replace(/ \d+\n$/, " 08192\n");
    refuses(
      text,
      "chunk",
      /^rfcs\/assets\/x\.png\.blob:2005: chunk value '08192' is not a canonical decimal/,
    );
  });

  it("should accept an empty blob with no chunks", () => {
    const empty: Manifest = {
      size: 0,
      sha256: hex(""),
      chunker: { ...DEFAULT_CHUNKER },
      chunks: [],
    };
    assert.deepEqual(parseManifest(serializeManifest(empty), "t"), empty);
  });

  it("should refuse a zero-length chunk", () => {
    refuses(
      withLine(7, `${B} 0`).replace("size 40000", "size 32768"),
      "chunk",
      /chunk 1 has length 0/,
    );
  });

  it("should refuse a chunk longer than the chunker's max", () => {
    const text = withLine(6, `${A} 131073`).replace("size 40000", "size 138305");
    refuses(text, "chunk", /exceeds the chunker's max 131072/);
  });

  it("should refuse sizes that do not add up", () => {
    refuses(withLine(2, "size 40001"), "size", /size 40001 but the chunk lengths add up to 40000/);
  });

  it("should refuse a chunk count that does not match the chunk lines", () => {
    refuses(withLine(5, "chunks 3"), "chunks", /'chunks 3' but 2 chunk line/);
    refuses(withLine(7, null), "chunks", /'chunks 2' but 1 chunk line/);
  });

  it("should refuse chunk ids that are not 64 lowercase hex characters", () => {
    for (const bad of [
      A.toUpperCase(),
      A.slice(1),
      `${A.slice(0, 63)}g`,
      `../../${A.slice(6)}`,
      `${A.slice(0, 62)}/x`,
    ]) {
      refuses(withLine(6, `${bad} 32768`), "chunk", /must be '<64 lowercase hex> <length>'/);
    }
  });

  it("should refuse a whole-blob sha256 that is not hex SHA-256", () => {
    refuses(withLine(3, `sha256 ${"A".repeat(64)}`), "sha256", /64 lowercase hex/);
    refuses(withLine(3, "sha256 ../etc/passwd"), "sha256", /64 lowercase hex/);
  });

  it("should refuse unknown, missing, repeated and reordered fields", () => {
    refuses(withLine(4, "compression zstd"), "compression", /unknown field 'compression'/);
    refuses(withLine(4, null), "chunker", /field 'chunks' out of order/);
    refuses(withLine(3, "size 40000"), "sha256", /field 'size' out of order or repeated/);
    refuses(
      withLine(5, null).replace(/\n[0-9a-f]{64} \d+/g, ""),
      "chunks",
      /missing field 'chunks'/,
    );
    refuses("gdo-blob v1\nsize 1\n", "sha256", /missing field 'sha256'/);
  });

  it("should refuse missing or malformed chunker parameters, naming the field", () => {
    refuses(withLine(4, "chunker"), "chunker", /has no value/);
    refuses(
      withLine(4, "chunker fastcdc-2020 min=8192 avg=32768 max=131072"),
      "chunker",
      /chunker must read/,
    );
    refuses(
      withLine(4, "chunker fastcdc-2020 min=8192 avg=32768 max=131072 level=9 seed=0"),
      "chunker.normalization",
      /normalization/,
    );
    refuses(
      withLine(4, "chunker rabin min=1 avg=2 max=3 level=0 seed=0"),
      "chunker",
      /chunker must read/,
    );
  });

  it("should refuse a wrong first line, an empty file and a missing final newline", () => {
    refuses(
      withLine(1, "version https://git-lfs.github.com/spec/v1"),
      "magic",
      /first line must be 'gdo-blob v1'/,
    );
    refuses("", "magic", /empty file/);
    refuses(canonical.slice(0, -1), "newline", /must end with a newline/);
  });

  it("should refuse non-canonical spellings (CR, leading zeros, extra spaces, blank lines)", () => {
    refuses(canonical.replace(/\n/g, "\r\n"), "encoding", /not printable ASCII/);
    refuses(withLine(2, "size 040000"), "size", /canonical decimal/);
    refuses(withLine(2, "size  40000"), "size", /canonical decimal/);
    refuses(withLine(6, `${A}  32768`), "chunk", /canonical decimal/);
    refuses(`${canonical}\n`, "chunks", /but 3 chunk line/);
    refuses(
      Buffer.from(canonical.replace("size", "s\u00efze"), "latin1"),
      "encoding",
      /not printable ASCII/,
    );
  });

  it("should refuse to serialize a manifest that would not parse", () => {
    assert.throws(() => serializeManifest({ ...sample, size: 1 }), { code: "manifest-invalid" });
    assert.throws(
      () => serializeManifest({ ...sample, chunks: [{ id: "../x", length: 40_000 }] }),
      { code: "manifest-invalid" },
    );
    assert.throws(
      () => serializeManifest({ ...sample, chunker: { ...DEFAULT_CHUNKER, maxSize: 1 } }),
      {
        code: "chunker-params-invalid",
      },
    );
  });

  it("should name pointer files *.blob and refuse path separators or dot-dot in names and ids", () => {
    assert.equal(blobPointerPath(A), `blobs/${A}.blob`);
    assert.equal(attachmentPointerName("fig.png"), "fig.png.blob");
    for (const bad of ["", ".", "..", "a/b.png", "..\\x", "a\u0000b", "x\nnl", "é".repeat(200)]) {
      assert.throws(() => attachmentPointerName(bad), { code: "invalid-id" }, JSON.stringify(bad));
    }
    for (const bad of ["../etc", `${A}/`, A.toUpperCase(), ""]) {
      assert.throws(() => blobPointerPath(bad), { code: "invalid-id" });
    }
  });
});
