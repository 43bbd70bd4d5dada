import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { lockDataDir, lockPath } from "../../node/data-lock.ts";
import { NODE_ENV, nodeFlags } from "../../node/process-options.ts";
import { scratch } from "../helpers/ledger.ts";
import { makeCluster, NODE_BIN, ROOT, type TestNode, waitFor } from "./cluster.ts";

describe("one node per data folder", () => {
  it("should refuse a second lock while the owner runs, and take over one left by a dead process", async () => {
    const dataDir = join(scratch(), "data");
    const release = await lockDataDir(dataDir);
    assert.equal(readFileSync(lockPath(dataDir), "utf8"), `${process.pid}\n`);
    await assert.rejects(lockDataDir(dataDir), (e: Error & { code?: string }) => {
      assert.equal(e.code, "node-running");
      assert.match(e.message, new RegExp(`already running on ${dataDir} \\(pid ${process.pid}\\)`));
      assert.match(e.message, /node\.lock/);
      return true;
    });
    await release();
    assert.equal(existsSync(lockPath(dataDir)), false, "released");

    // A node killed with -9 leaves its lock behind: its pid no longer runs.
    const gone = spawnSync("true").pid;
    writeFileSync(lockPath(dataDir), `${gone}\n`);
    const again = await lockDataDir(dataDir);
    assert.equal(readFileSync(lockPath(dataDir), "utf8"), `${process.pid}\n`);
    // Releasing leaves alone a lock that is no longer ours.
    writeFileSync(lockPath(dataDir), `${process.ppid}\n`);
    await again();
    assert.equal(readFileSync(lockPath(dataDir), "utf8"), `${process.ppid}\n`);
  });

  it("should stop a second node on a running node's folder, and say so when the port is taken", async (t) => {
    const { nodes, cleanup } = await makeCluster([
      { name: "alice", roles: ["admin"] },
      { name: "bob", roles: ["device"] },
    ]);
    t.after(cleanup);
    const [alice, bob] = [...nodes.values()] as [TestNode, TestNode];
    alice.start();
    await alice.ready();
    const main = await alice.main();

    const rfcs = join(alice.dataDir, "no-rfcs");
    mkdirSync(rfcs, { recursive: true });
    const second = spawnSync(
      NODE_BIN,
      [...nodeFlags(), join(ROOT, "cli/main.ts"), "node", "--no-site-build"].concat([
        "--data",
        alice.dataDir,
        "--rfcs",
        rfcs,
      ]),
      { env: { ...process.env, ...NODE_ENV }, encoding: "utf8", timeout: 60_000 },
    );
    assert.equal(second.status, 3, second.stderr);
    assert.match(second.stderr, /a node is already running on .* \(pid \d+\)/);
    assert.ok(alice.running, "the first node runs on");
    assert.equal(await alice.main(), main);
    assert.ok((await alice.status()).node.peerId, "and still answers");

    // Another folder, but alice's port: a clear error, not a stack trace.
    bob.configure({ listen: [`/ip4/127.0.0.1/tcp/${alice.port}`] });
    bob.start();
    await waitFor("bob to give up", () => !bob.running);
    assert.equal(bob.proc!.exitCode, 3, bob.output);
    assert.match(
      bob.output,
      /cannot listen for peers: .*EADDRINUSE.*; another program \(or node\) holds that port: change 'listen' in .*config\.json/,
    );
    assert.doesNotMatch(bob.output, /internal error/);
    assert.equal(existsSync(lockPath(bob.dataDir)), false, "bob's folder is not left locked");
  });
});
