import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { describe, it } from "node:test";
import { loadMallocTrim } from "../../node/malloc-trim.ts";

const moduleUrl = new URL("../../node/malloc-trim.ts", import.meta.url).href;
const glibc = (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header
  ?.glibcVersionRuntime;

describe("handing freed memory back to the system", () => {
  it("should return the pages of freed buffers that lie below live ones", {
    skip: glibc ? false : "glibc only (malloc_trim)",
  }, () => {
    // In a process of its own, so the figures are its alone.
    const script = `
        const { loadMallocTrim } = await import(${JSON.stringify(moduleUrl)});
        const { readFileSync } = await import("node:fs");
        const trim = await loadMallocTrim();
        if (typeof trim !== "function") throw new Error(trim.unavailable);
        const rss = () => Number(/VmRSS:\\s+(\\d+)/.exec(readFileSync("/proc/self/status", "utf8"))[1]) * 1024;
        // 64 KiB buffers come from glibc's heap (below its mmap threshold).
        let held = [];
        for (let i = 0; i < 2000; i++) held.push(Buffer.allocUnsafeSlow(64 * 1024).fill(1));
        // Every eighth stays: what is freed lies below live chunks, where free() cannot return it.
        held = held.filter((_, i) => i % 8 === 0);
        globalThis.gc();
        globalThis.gc();
        const before = rss();
        const released = trim();
        const after = rss();
        console.log(JSON.stringify({ before, after, released, kept: held.length }));
      `;
    const out = execFileSync(
      process.execPath,
      ["--expose-gc", "--input-type=module", "-e", script],
      // glibc's defaults: a MALLOC_* setting from outside would change where the buffers live.
      { encoding: "utf8", env: withoutMallocSettings(process.env) },
    );
    const { before, after, released } = JSON.parse(out);
    assert.equal(released, true, "malloc_trim returned memory");
    const freed = 1750 * 64 * 1024;
    assert.ok(
      before - after > freed / 2,
      `RSS fell by ${((before - after) / 2 ** 20).toFixed(1)} MiB of ${(freed / 2 ** 20).toFixed(1)} MiB freed`,
    );
  });

  it("should say why where it cannot be called, instead of failing", async () => {
    const trim = await loadMallocTrim({ library: "libgdo-no-such-library.so" });
    assert.equal(typeof trim, "object");
    const { unavailable } = trim as { unavailable: string };
    assert.match(unavailable, glibc ? /libgdo-no-such-library/ : /glibc/);
  });
});

function withoutMallocSettings(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([name]) => !name.startsWith("MALLOC_")));
}
