import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { NODE_ENV, nodeFlags } from "../../node/process-options.ts";
import { foundedByCli } from "../helpers/cli.ts";
import { NODE_BIN, ROOT } from "./cluster.ts";

describe("a node starting on a damaged ledger", () => {
  it("should stop with the ref, the ledger and what to do, and leave the folder unlocked", async () => {
    const cwd = await foundedByCli("gdo-startup-");
    const data = join(cwd, ".gdo");
    const missing = "0123456789abcdef0123456789abcdef01234567";
    writeFileSync(join(data, "ledger.git", "refs", "heads", "main"), `${missing}\n`);
    const node = spawnSync(
      NODE_BIN,
      [...nodeFlags(), join(ROOT, "cli/main.ts"), "node", "--no-site-build", "--data", data],
      { cwd, env: { ...process.env, ...NODE_ENV }, encoding: "utf8", timeout: 60_000 },
    );
    assert.equal(node.status, 1, node.stderr);
    assert.match(
      node.stderr,
      new RegExp(
        `object ${missing} is missing \\(refs/heads/main in ${data}/ledger.git points to it: the ledger is damaged: restore it from a backup`,
      ),
    );
    assert.doesNotMatch(node.stderr, /internal error/);
    assert.equal(existsSync(join(data, "node.lock")), false);
  });
});
