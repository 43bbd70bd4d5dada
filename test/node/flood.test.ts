import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { describe, it } from "node:test";
import { makeCluster, NODE_BIN, ROOT, sameMain, waitFor } from "./cluster.ts";

describe("floods", { timeout: 300_000 }, () => {
  it("should bound memory under oversized frames and a stream flood and keep honest peers syncing", async (t) => {
    const { nodes, cleanup } = await makeCluster([
      { name: "alice", roles: ["admin"] },
      { name: "bob", roles: ["device"] },
      { name: "flood", roles: ["device"] },
    ]);
    t.after(cleanup);
    const alice = nodes.get("alice")!;
    const bob = nodes.get("bob")!;
    const flood = nodes.get("flood")!;
    for (const n of [alice, bob]) n.start();
    await Promise.all([alice.ready(), bob.ready()]);
    await waitFor("bob to join", () => sameMain([alice, bob]));
    const rssBefore = (await alice.status()).node.memory.rss;

    const flooder = spawn(
      NODE_BIN,
      [
        join(ROOT, "test/node/fixtures/flood.ts"),
        "--key",
        join(flood.dataDir, "key"),
        "--target",
        alice.address,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    flooder.stdout.on("data", (d) => {
      out += d;
    });
    flooder.stderr.on("data", (d) => {
      out += d;
    });
    const exited = new Promise<number | null>((done) => flooder.once("exit", done));
    t.after(() => flooder.kill("SIGKILL"));

    // Honest traffic during the flood: bob writes, alice must get every block.
    const written: string[] = [];
    let peak = rssBefore;
    for (let i = 0; i < 5; i++) {
      written.push(await bob.write({ "logs/bob/during-flood.log": `line ${i}\n` }, `bob ${i}`));
      peak = Math.max(peak, (await alice.status()).node.memory.rss);
      await new Promise((r) => setTimeout(r, 1_000));
    }
    await waitFor("alice to get bob's blocks during the flood", async () => {
      peak = Math.max(peak, (await alice.status()).node.memory.rss);
      return (await alice.main()) === written.at(-1);
    });
    assert.equal(await exited, 0, `the flooder ran to the end:\n${out}`);
    const summary = JSON.parse(out.trim().split("\n").at(-1)!);
    assert.ok(summary.oversizeReset >= 9, `oversized frames were cut off: ${out}`);
    peak = Math.max(peak, (await alice.status()).node.memory.rss);
    const growth = peak - rssBefore;
    assert.ok(
      growth < 200 * 1024 * 1024,
      `alice's memory stayed bounded: ${Math.round(rssBefore / 1e6)} MB → peak ${Math.round(peak / 1e6)} MB`,
    );
    // After the flood the node still answers and syncs.
    const after = await bob.write({ "logs/bob/after-flood.log": "ok\n" }, "bob after");
    await waitFor(
      "alice to get a block after the flood",
      async () => (await alice.main()) === after,
    );
    t.diagnostic(
      `flood: ${JSON.stringify(summary)}; alice rss ${Math.round(rssBefore / 1e6)} MB → peak ${Math.round(peak / 1e6)} MB`,
    );
  });
});
