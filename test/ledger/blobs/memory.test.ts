import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const nodeBin = join(here, "..", "..", "..", "node_modules", ".bin", "node");
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Runs the child in a fresh process and returns its report (peak RSS in MiB). */
function measure(...args: string[]): { bytes: number; chunks: number; maxRssMiB: number } {
  const out = execFileSync(nodeBin, [join(here, "children", "stream-memory.ts"), ...args], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  return JSON.parse(out);
}

describe("blob streaming memory", () => {
  it("should chunk a 1 GiB stream in well under 200 MB of peak RSS", () => {
    const report = measure("chunk", "1024");
    assert.equal(report.bytes, 1024 * 1024 * 1024);
    assert.ok(report.chunks > 10_000);
    assert.ok(report.maxRssMiB < 150, `peak RSS ${report.maxRssMiB.toFixed(0)} MiB`);
  });

  it("should put a 256 MiB stream (chunk, hash on worker threads, write) in under 200 MB of peak RSS", () => {
    const dataDir = mkdtempSync(join(tmpdir(), "gdo-blob-mem-"));
    dirs.push(dataDir);
    const report = measure("put", "256", dataDir);
    assert.equal(report.bytes, 256 * 1024 * 1024);
    assert.ok(report.maxRssMiB < 200, `peak RSS ${report.maxRssMiB.toFixed(0)} MiB`);
  });
});
