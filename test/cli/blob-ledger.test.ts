import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { foundedByCli, gdo } from "../helpers/cli.ts";

async function ok(args: string[], cwd: string) {
  const run = await gdo(args, cwd);
  assert.equal(run.code, 0, `gdo ${args.join(" ")}: ${run.err}`);
  return run;
}

describe("blobs recorded in the ledger", () => {
  test("should record a put as a signed pointer block and let gc remove only what no branch references", async () => {
    const cwd = await foundedByCli("gdo-blob-ledger-");
    writeFileSync(join(cwd, "image.tar"), randomBytes(600_000));
    const put = await ok(["blob", "put", "image.tar"], cwd);
    const id = put.out.trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    assert.match(put.err, new RegExp(`recorded blobs/${id}.blob in block [0-9a-f]{40}`));
    assert.match(
      (await ok(["log", "--limit", "1"], cwd)).out,
      /Add blob image.tar \(600000 bytes\)/,
    );

    // Referenced by main: gc keeps it even with no grace period.
    assert.match((await ok(["blob", "gc", "--grace", "0"], cwd)).out, /removed 0 chunks/);
    await ok(["blob", "get", id, "-o", "copy.tar"], cwd);
    assert.deepEqual(readFileSync(join(cwd, "copy.tar")), readFileSync(join(cwd, "image.tar")));

    // A node whose config keeps only some paths says why it lacks the others.
    writeFileSync(
      join(cwd, ".gdo", "config.json"),
      JSON.stringify({ replicate: ["blobs/door/**"] }),
    );
    rmSync(join(cwd, ".gdo", "blobs", "manifests", id));
    const lacking = await gdo(["blob", "get", id, "-o", "none.tar"], cwd);
    assert.equal(lacking.code, 3);
    assert.match(
      lacking.err,
      new RegExp(`main names it at blobs/${id}.blob, which this node does not keep: 'replicate'`),
    );
    assert.ok(!existsSync(join(cwd, "none.tar")), "no output was made");
    writeFileSync(join(cwd, ".gdo", "config.json"), "{}");
    assert.match(
      (await gdo(["blob", "get", id], cwd)).err,
      /this node keeps it but has not fetched all of it yet/,
    );
    await ok(["blob", "put", "image.tar"], cwd);

    // Dropped from the ledger: gc may now remove its chunks.
    await ok(["write", "--rm", `blobs/${id}.blob`, "-m", "Drop the image"], cwd);
    assert.match((await ok(["blob", "gc", "--grace", "0"], cwd)).out, /removed [1-9]\d* chunks/);
    assert.match((await ok(["verify"], cwd)).out, /all valid/);
  });

  test("should refuse a --path that is unsafe or not a .blob pointer before storing the file", async () => {
    const cwd = await foundedByCli("gdo-blob-path-");
    writeFileSync(join(cwd, "image.tar"), randomBytes(200_000));
    const plain = await gdo(["blob", "put", "image.tar", "--path", "images/door"], cwd);
    assert.notEqual(plain.code, 0);
    assert.match(plain.err, /path 'images\/door' must name a file ending in \.blob/);
    const escaping = await gdo(["blob", "put", "image.tar", "--path", "../door.blob"], cwd);
    assert.notEqual(escaping.code, 0);
    assert.match(escaping.err, /'\.\.' component/);
    assert.equal((await ok(["blob", "ls"], cwd)).out, "", "nothing was stored");
    // The same put with a pointer path that peers see goes through.
    await ok(["blob", "put", "image.tar", "--path", "blobs/door.tar.blob"], cwd);
    assert.match((await ok(["blob", "ls"], cwd)).out, /^[0-9a-f]{64} 200000 \d+\n$/);
  });
});
