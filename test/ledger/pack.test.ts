import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { Repository } from "../../ledger/repository.ts";
import { Verifier } from "../../ledger/verify.ts";
import { addMember, git, makeLedger, scratch, text } from "../helpers/ledger.ts";
import { needs } from "../helpers/system.ts";

function looseFiles(gitdir: string): string[] {
  const objects = join(gitdir, "objects");
  return fs
    .readdirSync(objects)
    .filter((d) => /^[0-9a-f]{2}$/.test(d))
    .flatMap((d) => fs.readdirSync(join(objects, d)).map((n) => d + n));
}

function packNames(gitdir: string): string[] {
  return fs
    .readdirSync(join(gitdir, "objects", "pack"))
    .filter((n) => n.endsWith(".pack"))
    .map((n) => n.slice(0, -5));
}

/** A ledger of a few blocks whose objects are all packed by gdo. */
async function packedLedger() {
  const made = await makeLedger();
  const bob = await addMember(made.ledger, made.alice, "bob", ["editor"]);
  for (let i = 0; i < 5; i++) {
    await made.ledger.commit({
      key: bob,
      edits: [{ path: `blobs/n${i}.txt`, content: text(`note ${i}\n`.repeat(2000)) }],
      message: `note ${i}`,
    });
  }
  const before = looseFiles(made.gitdir);
  const result = made.ledger.repo.repack();
  return { ...made, before, result };
}

describe("packfiles", () => {
  it("should pack every loose object into one pack that stock git verifies and reads", {
    skip: needs("git"),
  }, async () => {
    const { gitdir, ledger, before, result } = await packedLedger();
    assert.equal(result.objects, before.length);
    assert.deepEqual(looseFiles(gitdir), []);
    assert.equal(packNames(gitdir).length, 1);
    const pack = join(gitdir, "objects", "pack", `${packNames(gitdir)[0]}.idx`);
    const verified = git(gitdir, ["verify-pack", "-v", pack]);
    assert.equal(verified.status, 0, verified.stderr);
    assert.match(verified.stdout, new RegExp(`non delta: ${before.length} objects`));
    const fsck = git(gitdir, ["fsck", "--full", "--strict"]);
    assert.equal(fsck.status, 0, fsck.stderr);
    // gdo reads it back: a fresh verifier over a fresh repository checks every block.
    const repo = await Repository.open({ gitdir });
    const head = await ledger.requireHead();
    assert.equal((await new Verifier({ objects: repo }).verify(head)).generation, 7);
    for (const oid of before) assert.ok(await repo.hasObject(oid));
  });

  it("should read packs made by git gc, with deltas of deltas", {
    skip: needs("git"),
  }, async () => {
    const dir = scratch("gdo-pack-");
    const work = join(dir, "work");
    const run = (args: string[]) => {
      const r = spawnSync("git", args, { cwd: work, encoding: "utf8" });
      assert.equal(r.status, 0, r.stderr);
      return r.stdout;
    };
    fs.mkdirSync(work);
    run(["init", "-q"]);
    const lines = Array.from(
      { length: 400 },
      (_, i) => `line ${i} of a file that changes a little`,
    );
    for (let v = 0; v < 12; v++) {
      lines[v * 7] = `edited in version ${v}`;
      fs.writeFileSync(join(work, "doc.txt"), `${lines.join("\n")}\n`);
      run(["add", "doc.txt"]);
      run(["-c", "user.name=t", "-c", "user.email=t@x", "commit", "-q", "-m", `v${v}`]);
    }
    run(["repack", "-adf", "--depth=50", "--window=50"]);
    const gitdir = join(work, ".git");
    const verify = git(gitdir, [
      "verify-pack",
      "-v",
      ...fs
        .readdirSync(join(gitdir, "objects", "pack"))
        .filter((n) => n.endsWith(".idx"))
        .map((n) => join(gitdir, "objects", "pack", n)),
    ]);
    assert.match(verify.stdout, /chain length = [2-9]/, "git made deltas of deltas");
    const all = run([
      "cat-file",
      "--batch-all-objects",
      "--batch-check=%(objectname) %(objecttype) %(objectsize)",
    ]);
    const repo = await Repository.open({ gitdir });
    let count = 0;
    for (const line of all.trim().split("\n")) {
      const [oid, type, size] = line.split(" ");
      const object = await repo.readObject(oid!);
      assert.equal(object.type, type);
      assert.equal(object.content.length, Number(size));
      count++;
    }
    assert.ok(count >= 36, `read ${count} objects`);
    assert.equal(
      Buffer.from(
        (await repo.readObject(run(["rev-parse", "HEAD:doc.txt"]).trim())).content,
      ).toString(),
      fs.readFileSync(join(work, "doc.txt"), "utf8"),
    );
  });

  it("should refuse a damaged pack entry and a truncated pack with corrupt-object", async () => {
    const { gitdir, before } = await packedLedger();
    const name = packNames(gitdir)[0]!;
    const packPath = join(gitdir, "objects", "pack", `${name}.pack`);
    const original = fs.readFileSync(packPath);
    fs.chmodSync(packPath, 0o644);
    // Flip a byte inside the stored content of the largest object.
    const flipped = Buffer.from(original);
    flipped[Math.floor(original.length / 2)]! ^= 0x20;
    fs.writeFileSync(packPath, flipped);
    let repo = await Repository.open({ gitdir });
    const failures: string[] = [];
    for (const oid of before) {
      try {
        await repo.readObject(oid);
      } catch (error) {
        assert.equal((error as { code?: string }).code, "corrupt-object");
        assert.match((error as Error).message, new RegExp(oid));
        failures.push(oid);
      }
    }
    assert.equal(failures.length, 1, "exactly the damaged object is refused");

    fs.writeFileSync(packPath, original.subarray(0, original.length - 200));
    repo = await Repository.open({ gitdir });
    await assert.rejects(
      async () => {
        for (const oid of before) await repo.readObject(oid);
      },
      { code: "corrupt-object" },
    );
  });

  it("should pack around damaged loose objects, leaving them loose, and pack them once repaired", async () => {
    const made = await makeLedger();
    for (let i = 0; i < 3; i++) {
      await made.ledger.commit({
        key: made.alice,
        edits: [{ path: `rfcs/000${i + 2}-x.md`, content: text(`# X ${i}\n`) }],
        message: `rfc ${i}`,
      });
    }
    const loose = looseFiles(made.gitdir);
    // Deep in the write order, so the first pass has already written part of its pack.
    const sorted = loose.toSorted();
    // Two of them, so one pass must find both.
    const victims = [
      sorted[Math.floor(sorted.length / 3)]!,
      sorted[Math.floor((2 * sorted.length) / 3)]!,
    ];
    const paths = victims.map((v) => join(made.gitdir, "objects", v.slice(0, 2), v.slice(2)));
    const goods = paths.map((path) => fs.readFileSync(path));
    paths.forEach((path, i) => {
      fs.chmodSync(path, 0o644);
      const damaged = Buffer.from(goods[i]!);
      damaged[damaged.length >> 1]! ^= 1;
      fs.writeFileSync(path, damaged);
    });

    const result = made.ledger.repo.repack();
    assert.equal(result.objects, loose.length - 2);
    assert.deepEqual(
      looseFiles(made.gitdir).toSorted(),
      victims.toSorted(),
      "only the damaged objects stay loose",
    );
    assert.equal(packNames(made.gitdir).length, 1);
    assert.deepEqual(
      fs.readdirSync(join(made.gitdir, "objects", "pack")).filter((n) => n.startsWith("tmp_")),
      [],
      "the abandoned pass left no temp file",
    );
    const repo = await Repository.open({ gitdir: made.gitdir });
    for (const oid of loose) if (!victims.includes(oid)) assert.ok(repo.readObjectSync(oid));

    for (const [i, path] of paths.entries()) fs.writeFileSync(path, goods[i]!);
    assert.equal(made.ledger.repo.repack().objects, 2);
    assert.deepEqual(looseFiles(made.gitdir), []);
  });

  it("should hold a small deflated object in a buffer of its size, not zlib's whole output chunk", {
    skip: needs("git"),
  }, async () => {
    const { gitdir } = await makeLedger();
    // Stock git deflates loose objects; zlib's output chunk is 16 KiB.
    const made = spawnSync("git", ["--git-dir", gitdir, "hash-object", "-w", "--stdin"], {
      input: "a small note\n",
      encoding: "utf8",
    });
    assert.equal(made.status, 0, made.stderr);
    const repo = await Repository.open({ gitdir });
    const { content } = repo.readObjectSync(made.stdout.trim());
    assert.equal(Buffer.from(content).toString(), "a small note\n");
    // Held in a buffer of its own size, or in Node's pool of small buffers
    // (shared by many; 64 KiB in Node 24.21, as is zlib's output chunk), not
    // alone in zlib's output chunk.
    const held = content.buffer.byteLength;
    const pooled = content.buffer === Buffer.allocUnsafe(1).buffer;
    assert.ok(held < 16 * 1024 || pooled, `held in ${held} bytes`);
  });

  it("should let a reader opened before a repack keep reading after it", async () => {
    const { ledger, gitdir } = await makeLedger();
    const reader = await Repository.open({ gitdir });
    const head = await ledger.requireHead();
    await reader.readObject(head);
    const loose = looseFiles(gitdir);
    ledger.repo.repack();
    assert.deepEqual(looseFiles(gitdir), []);
    for (const oid of loose) assert.ok((await reader.readObject(oid)).content.length >= 0);
  });

  it("should read every object back intact when reads jump about a pack larger than its windows", async () => {
    const { gitdir } = await makeLedger();
    const repo = await Repository.open({ gitdir });
    const { objectId } = await import("../../ledger/object-codec.ts");
    const { randomBytes } = await import("node:crypto");
    // 48 blobs of 400 KB: a 19 MB pack, more than the reader's 8 windows of 1 MiB.
    const objects = Array.from({ length: 48 }, () => {
      const content = randomBytes(400_000);
      return { oid: objectId("blob", content), type: "blob" as const, content };
    });
    repo.writePack(objects);
    const reader = await Repository.open({ gitdir });
    // A fixed shuffle: far-apart windows in turn, each read re-hashed against its id.
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < objects.length; i++) {
        const { oid, content } = objects[(i * 29 + round * 7) % objects.length]!;
        assert.ok(Buffer.from(reader.readObjectSync(oid).content).equals(content));
      }
    }
  });

  it("should see packs written in quick succession, by itself and by another reader", async () => {
    const { gitdir } = await makeLedger();
    const writer = await Repository.open({ gitdir });
    const reader = await Repository.open({ gitdir });
    const { objectId } = await import("../../ledger/object-codec.ts");
    for (let round = 0; round < 20; round++) {
      const content = text(`round ${round}\n`);
      const oid = objectId("blob", content);
      // Two packs within one clock tick leave the folder's mtime unchanged.
      writer.writePack([{ oid, type: "blob", content }]);
      const expected = `round ${round}\n`;
      assert.equal(Buffer.from((await writer.readObject(oid)).content).toString(), expected);
      assert.equal(Buffer.from((await reader.readObject(oid)).content).toString(), expected);
    }
  });

  it("should pack on its own once enough loose objects pile up, and merge many packs", async () => {
    const { ledger, alice, gitdir } = await makeLedger();
    for (let round = 0; round < 4; round++) {
      await ledger.commit({
        key: alice,
        edits: [{ path: `logs/alice/r${round}.log`, content: text(`round ${round}\n`) }],
        message: `round ${round}`,
      });
      ledger.repo.packIfDue({ looseLimit: 1, packLimit: 3 });
      assert.deepEqual(looseFiles(gitdir), [], `round ${round} left loose objects`);
    }
    // Packs 1, 2, 3, then the fourth round merged them all into one.
    assert.equal(packNames(gitdir).length, 1);
    const head = await ledger.requireHead();
    const repo = await Repository.open({ gitdir });
    assert.equal((await new Verifier({ objects: repo }).verify(head)).generation, 5);
  });

  it("should ignore a pack a crash left without an index, and a stale repack lock", async () => {
    const { ledger, alice, gitdir } = await makeLedger();
    const packDir = join(gitdir, "objects", "pack");
    fs.mkdirSync(packDir, { recursive: true });
    fs.writeFileSync(join(packDir, "tmp_pack_123.abcd"), "PACK partial");
    fs.writeFileSync(join(packDir, "pack-0000000000000000000000000000000000000000.pack"), "PACK");
    const lock = join(packDir, "gdo-repack.lock");
    fs.writeFileSync(lock, "");
    const old = new Date(Date.now() - 3_600_000);
    fs.utimesSync(lock, old, old);
    await ledger.commit({
      key: alice,
      edits: [{ path: "logs/alice/a.log", content: text("a") }],
      message: "a",
    });
    assert.ok(ledger.repo.repack().objects > 0, "the stale lock is taken over");
    assert.equal(fs.existsSync(lock), false);
    fs.writeFileSync(lock, "");
    assert.equal(ledger.repo.repack().objects, 0, "a fresh lock means another repack runs");
    const repo = await Repository.open({ gitdir });
    const head = await ledger.requireHead();
    assert.equal((await new Verifier({ objects: repo }).verify(head)).generation, 2);
  });
});
