import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { makeCluster, sameMain, type TestNode, waitFor } from "./cluster.ts";

async function putBlob(node: TestNode, bytes: Uint8Array, path: string) {
  const query = `?path=${encodeURIComponent(path)}&message=${encodeURIComponent(`add ${path}`)}`;
  return (await node.post(`/api/blobs${query}`, bytes)) as { id: string; block: string };
}

/** The manifests a node's store holds, each with its file's inode (a rewrite makes a new one). */
function manifestInodes(node: TestNode): Map<string, number> {
  const dir = join(node.dataDir, "blobs", "manifests");
  return new Map(readdirSync(dir).map((name) => [name, statSync(join(dir, name)).ino]));
}

/**
 * Starts `alice` and `peer`, puts `bytes` on alice as `path`, and waits until
 * `peer` has fetched every chunk of it (so it can serve them).
 */
async function heldByBoth(alice: TestNode, peer: TestNode, bytes: Uint8Array, path: string) {
  alice.start();
  peer.start();
  await Promise.all([alice.ready(), peer.ready()]);
  await waitFor(`${peer.name} to join`, () => sameMain([alice, peer]));
  const blob = await putBlob(alice, bytes, path);
  await waitFor(`${peer.name} to hold every chunk`, async () => {
    const c = (await peer.status()).sync.chunks;
    return c.wantedChunks > 0 && c.missingChunks === 0 && c.fetchedChunks > 0;
  });
  return blob;
}

async function readBlob(node: TestNode, id: string): Promise<Buffer | undefined> {
  const { status, body } = await node.get(`/api/blobs/${id}`);
  return status === 200 ? body : undefined;
}

describe("blobs between nodes", { timeout: 300_000 }, () => {
  it("should make a blob put on A readable on C through B, moving only missing chunks", async (t) => {
    const { nodes, cleanup } = await makeCluster([
      { name: "alice", roles: ["admin"] },
      { name: "bob", roles: ["device"] },
      { name: "carol", roles: ["device"] },
    ]);
    t.after(cleanup);
    const [alice, bob, carol] = [...nodes.values()] as [TestNode, TestNode, TestNode];
    // A line: alice ↔ bob ↔ carol; carol never learns alice's address.
    alice.configure({ bootstrap: [bob.address] });
    bob.configure({ bootstrap: [alice.address] });
    carol.configure({ bootstrap: [bob.address] });
    for (const n of [alice, bob, carol]) n.start();
    await Promise.all([alice, bob, carol].map((n) => n.ready()));
    await waitFor("all to join", () => sameMain([alice, bob, carol]));

    // Large enough for several pipelined requests on each of a peer's streams.
    const first = randomBytes(40 * 1024 * 1024);
    const one = await putBlob(alice, first, "blobs/manual-v1.pdf.blob");
    const got = await waitFor("carol to read the blob", () => readBlob(carol, one.id));
    assert.ok(got.equals(first), "carol's copy is byte-identical");
    const before = (await carol.status()).sync.chunks.fetchedBytes;
    assert.ok(before >= first.length, `carol fetched the whole blob once (${before} bytes)`);
    // Received in batches, stored as packs rather than a file per chunk.
    const packs = readdirSync(join(carol.dataDir, "blobs", "packs"));
    assert.ok(packs.length >= 5, `carol stored the chunks in packs (${packs.join(", ")})`);

    const manifests = manifestInodes(carol);
    assert.ok(manifests.has(one.id), `carol stored the manifest (${[...manifests.keys()]})`);

    // A second version differing in 100 bytes shares all but a chunk or two.
    // They lie past the first 1,024 chunks (about 32 MiB), the slice looked up
    // first, so the fetch finds nothing missing there and waits for the next.
    const second = Buffer.from(first);
    randomBytes(100).copy(second, 39_000_000);
    const two = await putBlob(alice, second, "blobs/manual-v2.pdf.blob");
    const got2 = await waitFor("carol to read the second version", () => readBlob(carol, two.id));
    assert.ok(got2.equals(second));
    const s = await carol.status();
    const moved = s.sync.chunks.fetchedBytes - before;
    assert.ok(moved > 0, "something moved");
    assert.ok(
      moved < second.length / 4,
      `only the changed chunks moved: ${moved} bytes for a ${second.length}-byte blob`,
    );
    assert.ok(
      !s.peers.some((p) => p.id === alice.peerId && p.connected),
      "carol never connected to alice",
    );
    const b = await bob.status();
    assert.ok(b.sync.chunks.servedBytes >= first.length, "bob served the chunks to carol");
    // The block naming the second version left the first manifest as it was stored.
    const after = manifestInodes(carol);
    for (const [name, inode] of manifests) {
      assert.equal(after.get(name), inode, `manifest ${name} was not written again`);
    }
    // Both blobs complete: a later pass (one every 3 s here) looks up none of their chunks.
    const settled = await waitFor("a pass that looks up no chunk", async () => {
      const c = (await carol.status()).sync.chunks;
      return c.checkedChunks === 0 && c.wantedBlobs === 2 ? c : undefined;
    });
    assert.ok(settled.wantedChunks > 0, "the blobs' chunks are still counted as wanted");
    assert.equal(settled.missingChunks, 0);
  });

  it("should drop chunks whose bytes do not match their id and fetch them from an honest peer", async (t) => {
    const { nodes, cleanup } = await makeCluster([
      { name: "alice", roles: ["admin"] },
      { name: "liar", roles: ["device"] },
      { name: "carol", roles: ["device"] },
    ]);
    t.after(cleanup);
    const [alice, liar, carol] = [...nodes.values()] as [TestNode, TestNode, TestNode];
    liar.misbehave("chunks");
    const bytes = randomBytes(4 * 1024 * 1024);
    const blob = await heldByBoth(alice, liar, bytes, "blobs/firmware.bin.blob");

    carol.start();
    await carol.ready();
    const got = await waitFor("carol to read the blob", () => readBlob(carol, blob.id));
    assert.ok(got.equals(bytes), "carol's copy is the honest one");
    const s = await carol.status();
    const record = s.peers.find((p) => p.id === liar.peerId);
    assert.ok(
      record && record.refusedChunks > 0,
      `carol refused chunks from the liar:\n${carol.output}\n${JSON.stringify(s.peers)}`,
    );
    assert.ok(record.score < 0, `the liar's score dropped (${record.score})`);
    assert.ok(s.sync.chunks.refusedChunks > 0);
    assert.match(carol.output, /refused {3}chunk [0-9a-f]{12} from liar: its bytes do not match/);
  });

  it("should refuse a pointer path peers would not see, and a malformed id, before storing anything", async (t) => {
    const { nodes, cleanup } = await makeCluster([{ name: "alice", roles: ["admin"] }]);
    t.after(cleanup);
    const alice = nodes.get("alice")!;
    alice.start();
    await alice.ready();
    const main = await alice.main();
    const bytes = randomBytes(300_000);
    await assert.rejects(
      putBlob(alice, bytes, "blobs/firmware"),
      /→ 400: .*path 'blobs\/firmware' must name a file ending in \.blob/,
    );
    await assert.rejects(putBlob(alice, bytes, "../firmware.blob"), /→ 422: .*'\.\.' component/);
    assert.equal(await alice.main(), main, "no block was written");
    const manifests = join(alice.dataDir, "blobs", "manifests");
    assert.deepEqual(
      existsSync(manifests) ? readdirSync(manifests) : [],
      [],
      "the refused uploads were not stored",
    );
    const bad = await alice.get("/api/blobs/..%2Fkey");
    assert.equal(bad.status, 400);
    assert.match(bad.body.toString(), /"code": "invalid-id"/);
    assert.equal((await alice.get(`/api/blobs/${"a".repeat(64)}`)).status, 404);
  });

  it("should resume a transfer cut off mid-way, after a restart, fetching only what did not arrive", async (t) => {
    const { nodes, cleanup } = await makeCluster([
      { name: "alice", roles: ["admin"] },
      { name: "quitter", roles: ["device"] },
      { name: "carol", roles: ["device"] },
    ]);
    t.after(cleanup);
    const [alice, quitter, carol] = [...nodes.values()] as [TestNode, TestNode, TestNode];
    // About 700 chunks; the quitter dies (kill -9 of itself) after serving 250.
    quitter.misbehave("vanish:250");
    quitter.configure({ bootstrap: [alice.address] });
    carol.configure({ bootstrap: [quitter.address, alice.address] });
    const bytes = randomBytes(24 * 1024 * 1024);
    const blob = await heldByBoth(alice, quitter, bytes, "blobs/images/door.img.blob");
    // Alice goes away, so carol can only fetch from the quitter.
    await alice.stop();

    carol.start();
    await carol.ready();
    await waitFor("the quitter to vanish mid-transfer", () => !quitter.running);
    // What carol stored before losing its only source, once nothing more is arriving.
    let stored = -1;
    await waitFor("carol's store to settle", async () => {
      const s = await carol.status();
      const now = s.sync.chunks.fetchedBytes;
      const settled = now === stored && !s.peers.some((p) => p.connected);
      stored = now;
      if (!settled) await new Promise((done) => setTimeout(done, 500));
      return settled;
    });
    assert.ok(stored > 0, `carol stored part of the blob from the quitter (${stored} bytes)`);
    assert.ok(stored < bytes.length, `the quitter vanished before the end (${stored} bytes)`);
    assert.equal(await readBlob(carol, blob.id), undefined, "the blob is not readable yet");
    await carol.kill9();

    alice.start();
    carol.start();
    await Promise.all([alice.ready(), carol.ready()]);
    const got = await waitFor("carol to read the blob", () => readBlob(carol, blob.id));
    assert.ok(got.equals(bytes), "carol's copy is byte-identical");
    const resumed = (await carol.status()).sync.chunks;
    t.diagnostic(
      `${stored} bytes stored from the quitter, ${resumed.fetchedBytes} fetched after the restart, of ${bytes.length}`,
    );
    assert.ok(resumed.fetchedBytes > 0, "the rest came from alice");
    assert.ok(
      resumed.fetchedBytes <= bytes.length - stored,
      `nothing stored before the restart was fetched again: ${resumed.fetchedBytes} bytes after it, ${stored} before, of ${bytes.length}`,
    );
    assert.equal(resumed.refusedChunks, 0);
  });

  it("should leave a peer that trickles its answers and take the chunks from another", async (t) => {
    const { nodes, cleanup } = await makeCluster([
      { name: "alice", roles: ["admin"] },
      { name: "sloth", roles: ["device"] },
      { name: "carol", roles: ["device"] },
    ]);
    t.after(cleanup);
    const [alice, sloth, carol] = [...nodes.values()] as [TestNode, TestNode, TestNode];
    // About 10 chunks a second on each of its streams (~0.35 MiB/s), sent
    // often enough for the idle timeout; carol asks for 1 MiB/s.
    sloth.misbehave("slow:100");
    sloth.configure({ bootstrap: [alice.address] });
    carol.configure({
      bootstrap: [alice.address, sloth.address],
      limits: { streamIdleMs: 2_000, minChunkRate: 1024 * 1024 },
    });
    const bytes = randomBytes(24 * 1024 * 1024);
    const blob = await heldByBoth(alice, sloth, bytes, "blobs/images/lathe.img.blob");

    carol.start();
    await carol.ready();
    const got = await waitFor("carol to read the blob", () => readBlob(carol, blob.id));
    assert.ok(got.equals(bytes), "carol's copy is byte-identical");
    const s = await carol.status();
    const fromSloth = s.peers.find((p) => p.id === sloth.peerId);
    const fromAlice = s.peers.find((p) => p.id === alice.peerId);
    assert.ok(fromSloth && fromAlice, JSON.stringify(s.peers));
    assert.match(fromSloth.lastError ?? "", /an answer of \d+ bytes was not in after \d+ ms/);
    assert.match(carol.output, /chunks {4}sloth: an answer of \d+ bytes was not in after/);
    t.diagnostic(
      `from alice ${fromAlice.chunkBytesIn} bytes, from the sloth ${fromSloth.chunkBytesIn} bytes`,
    );
    assert.ok(
      fromAlice.chunkBytesIn > fromSloth.chunkBytesIn,
      `most came from alice: ${fromAlice.chunkBytesIn} against ${fromSloth.chunkBytesIn} bytes`,
    );
    assert.equal(s.sync.chunks.refusedChunks, 0, "a slow peer is not a liar");
  });

  it("should fetch only the blobs a node's replicate rules name, while keeping all of the ledger", async (t) => {
    const { nodes, cleanup } = await makeCluster([
      { name: "alice", roles: ["admin"] },
      { name: "door", roles: ["device"] },
    ]);
    t.after(cleanup);
    const [alice, door] = [...nodes.values()] as [TestNode, TestNode];
    door.configure({ bootstrap: [alice.address], replicate: ["blobs/door/**"] });
    alice.start();
    door.start();
    await Promise.all([alice.ready(), door.ready()]);
    await waitFor("the door to join", () => sameMain([alice, door]));
    const acl = randomBytes(300_000);
    const manual = randomBytes(2 * 1024 * 1024);
    const kept = await putBlob(alice, acl, "blobs/door/acl.bin.blob");
    const skipped = await putBlob(alice, manual, "blobs/manuals/lathe.pdf.blob");
    await waitFor("the door to hold both pointer blocks", async () => {
      const main = await sameMain([alice, door]);
      return main === skipped.block || undefined;
    });
    const got = await waitFor("the door to read its ACL blob", () => readBlob(door, kept.id));
    assert.ok(got.equals(acl));
    const s = (await door.status()).sync.chunks;
    assert.equal(s.wantedBlobs, 1, "only the door's blob is wanted");
    assert.ok(s.fetchedBytes < acl.length + 64 * 1024, `fetched ${s.fetchedBytes} bytes`);
    assert.equal(await readBlob(door, skipped.id), undefined, "the manual was not fetched");
    // Asked for it, the door says why it has not got it.
    const asked = await door.get(`/api/blobs/${skipped.id}`);
    assert.equal(asked.status, 404);
    assert.match(
      JSON.parse(asked.body.toString("utf8")).error,
      /main names it at blobs\/manuals\/lathe\.pdf\.blob, which this node does not keep: 'replicate' in its config\.json \(blobs\/door\/\*\*\) leaves that path out/,
    );
    const unknown = await door.get(`/api/blobs/${"b".repeat(64)}`);
    assert.match(
      JSON.parse(unknown.body.toString("utf8")).error,
      /no pointer file in main names it/,
    );
  });
});
