import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { nodeFlags } from "../../node/process-options.ts";
import { cachedPath, fillTypeCache, PROJECT_ROOT } from "../../node/type-cache.mjs";

const root = PROJECT_ROOT;
const scratch = mkdtempSync(join(root, "test", ".type-cache-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** What a child process started with `flags` reports after importing `url`. */
function loadIn(flags: string[], url: string): { value: unknown; stripper: boolean } {
  const script = `
    const module = await import(${JSON.stringify(url)});
    const stripper = process.moduleLoadList.some((m) => m.includes("internal/deps/amaro"));
    console.log(JSON.stringify({ value: module.value ?? null, stripper }));`;
  const out = execFileSync(process.execPath, [...flags, "--input-type=module", "-e", script], {
    encoding: "utf8",
  });
  return JSON.parse(out);
}

describe("the stripped-types cache", () => {
  it("should keep every line and column of a source where it was", async () => {
    await fillTypeCache();
    const file = join(root, "node", "frame.ts");
    const source = readFileSync(file);
    const stripped = readFileSync(cachedPath(source), "utf8");
    assert.equal(stripped.length, source.toString("utf8").length);
    assert.deepEqual(
      stripped.split("\n").map((line) => line.length),
      source
        .toString("utf8")
        .split("\n")
        .map((line) => line.length),
    );
    assert.doesNotMatch(stripped, /: Uint8Array\[\]/, "the types are gone");
  });

  it("should load the node's modules without Node's type stripper, and a source missing from the cache with it", () => {
    const module = new URL("../../ledger/errors.ts", import.meta.url).href;
    assert.equal(loadIn(nodeFlags(), module).stripper, false, "served from the cache");
    assert.equal(loadIn([], module).stripper, true, "without the preload, Node strips");
    // A source the cache has never seen (edited since, say) still loads, stripped by Node.
    const fresh = join(scratch, "fresh.ts");
    writeFileSync(fresh, "export const value: number = 42;\n");
    assert.deepEqual(loadIn(nodeFlags(), new URL(`file://${fresh}`).href), {
      value: 42,
      stripper: true,
    });
  });

  it("should say once why it cannot cache, and still run, where the cache folder cannot be written", () => {
    const blocked = join(scratch, "a-file");
    writeFileSync(blocked, "not a folder");
    const module = new URL("../../ledger/errors.ts", import.meta.url).href;
    const script = `await import(${JSON.stringify(module)}); console.log("loaded");`;
    const run = spawnSync(process.execPath, [...nodeFlags(), "--input-type=module", "-e", script], {
      encoding: "utf8",
      env: { ...process.env, GDO_TYPE_CACHE: join(blocked, "cache") },
    });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout, "loaded\n");
    assert.match(
      run.stderr,
      /^gdo: cannot cache stripped types in .*a-file\/cache \(ENOTDIR\); Node strips them/,
    );
    assert.equal(run.stderr.trim().split("\n").length, 1, "one line, no stack trace");
  });
});
