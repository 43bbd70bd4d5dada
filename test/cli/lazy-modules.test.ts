import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { describe, it } from "node:test";

const commands = new URL("../../cli/commands.ts", import.meta.url).href;

describe("modules every command loads", () => {
  it("should not include the Markdown parser, which only the RFC commands need (gdo node would hold it)", () => {
    // In a process of its own: which packages does loading the command table load?
    const script = `
      import { registerHooks } from "node:module";
      const loaded = [];
      registerHooks({ load(url, context, next) { loaded.push(url); return next(url, context); } });
      await import(${JSON.stringify(commands)});
      console.log(JSON.stringify(loaded));`;
    const loaded: string[] = JSON.parse(
      execFileSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" }),
    );
    assert.ok(
      loaded.some((url) => url.endsWith("/cli/rfc.ts")),
      "the RFC commands are listed",
    );
    const parsers = loaded.filter((url) => /\/node_modules\/(unified|remark-|micromark)/.test(url));
    assert.deepEqual(parsers, []);
  });
});
