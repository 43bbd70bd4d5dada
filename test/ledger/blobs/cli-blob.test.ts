import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash, randomBytes, randomFillSync } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { runCli } from "../../../cli/main.ts";
import { chunkLocations, damageChunk, loseChunk } from "../../helpers/blob-store.ts";

const projectRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const nodeBin = join(projectRoot, "node_modules", ".bin", "node");
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function workspace() {
  const dir = mkdtempSync(join(tmpdir(), "gdo-blob-cli-"));
  dirs.push(dir);
  return dir;
}

async function gdo(cwd: string, ...argv: string[]) {
  let out = "";
  let err = "";
  const code = await runCli([...argv, "--data", join(cwd, "data")], {
    cwd,
    env: {},
    out: (s) => {
      out += s;
    },
    err: (s) => {
      err += s;
    },
  });
  return { code, out, err };
}

/** The chunks stored in `cwd`'s data folder, by id. */
function storedChunks(cwd: string) {
  return chunkLocations(join(cwd, "data"));
}

describe("gdo blob", () => {
  it("should put a file, list it, get it back to a file and report stats", async () => {
    const cwd = workspace();
    const data = randomBytes(700_000);
    writeFileSync(join(cwd, "image.tar"), data);
    const put = await gdo(cwd, "blob", "put", "image.tar");
    assert.equal(put.code, 0, put.err);
    const id = put.out.trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    assert.match(put.err, /stored 700000 bytes in \d+ chunks/);

    const ls = await gdo(cwd, "blob", "ls");
    assert.match(ls.out, new RegExp(`^${id} 700000 \\d+\\n$`));

    const get = await gdo(cwd, "blob", "get", id, "-o", "copy.tar");
    assert.equal(get.code, 0, get.err);
    assert.ok(readFileSync(join(cwd, "copy.tar")).equals(data));

    await gdo(cwd, "blob", "put", "image.tar");
    const stats = await gdo(cwd, "blob", "stats");
    assert.match(stats.out, /^blobs: 1$/m);
    assert.match(stats.out, /^logical bytes: 700000$/m);
    assert.match(stats.out, /^stored bytes: 700000$/m);
    assert.match(stats.out, /^dedup ratio: 1\.00$/m);

    const check = await gdo(cwd, "blob", "check", "--read-data");
    assert.equal(check.code, 0);
    assert.match(check.out, /checked 1 blobs, \d+ chunks re-hashed \(700000 bytes\)/);
  });

  it("should exit 1 from check and name every affected blob when a chunk is bad or missing", async () => {
    const cwd = workspace();
    writeFileSync(join(cwd, "a"), randomBytes(300_000));
    writeFileSync(join(cwd, "b"), randomBytes(300_000));
    const a = (await gdo(cwd, "blob", "put", "a")).out.trim();
    const b = (await gdo(cwd, "blob", "put", "b")).out.trim();
    const manifestA = readFileSync(join(cwd, "data", "blobs", "manifests", a), "latin1");
    const firstOfA = manifestA.split("\n")[5]!.slice(0, 64);
    loseChunk(join(cwd, "data"), firstOfA);
    const check = await gdo(cwd, "blob", "check");
    assert.equal(check.code, 1);
    assert.match(check.out, new RegExp(`missing chunk ${firstOfA} \\(blobs: ${a}\\)`));
    assert.match(check.out, new RegExp(`affected blob ${a}`));
    assert.match(check.err, /\[blob-check-failed\]/);

    const manifestB = readFileSync(join(cwd, "data", "blobs", "manifests", b), "latin1");
    const firstOfB = manifestB.split("\n")[5]!.slice(0, 64);
    damageChunk(join(cwd, "data"), firstOfB, (bytes) => {
      bytes[10]! ^= 1;
    });
    assert.doesNotMatch(
      (await gdo(cwd, "blob", "check")).out,
      /affected blob [0-9a-f]+\n.*affected blob/s,
    );
    const deep = await gdo(cwd, "blob", "check", "--read-data");
    assert.equal(deep.code, 1);
    assert.match(deep.out, new RegExp(`corrupt chunk ${firstOfB}: .*\\(blobs: ${b}\\)`));
    assert.match(
      deep.out,
      new RegExp(`affected blob ${a}\\naffected blob ${b}|affected blob ${b}\\naffected blob ${a}`),
    );
  });

  it("should not leave a partial output file when get fails verification", async () => {
    const cwd = workspace();
    writeFileSync(join(cwd, "f"), randomBytes(400_000));
    const id = (await gdo(cwd, "blob", "put", "f")).out.trim();
    const last = [...storedChunks(cwd).keys()].sort().at(-1)!;
    damageChunk(join(cwd, "data"), last, (bytes) => {
      randomFillSync(bytes);
    });
    const get = await gdo(cwd, "blob", "get", id, "-o", "out.bin");
    assert.equal(get.code, 1);
    assert.match(get.err, /does not verify.*\[chunk-corrupt\]/);
    assert.equal(existsSync(join(cwd, "out.bin")), false);
    assert.deepEqual(readdirSync(cwd).sort(), ["data", "f"]);
  });

  it("should gc chunks no stored manifest references", async () => {
    const cwd = workspace();
    writeFileSync(join(cwd, "f"), randomBytes(200_000));
    const id = (await gdo(cwd, "blob", "put", "f")).out.trim();
    const count = storedChunks(cwd).size;
    rmSync(join(cwd, "data", "blobs", "manifests", id));
    const young = await gdo(cwd, "blob", "gc");
    assert.match(
      young.out,
      new RegExp(`removed 0 chunks .* kept ${count} chunks \\(${count} within the grace period\\)`),
    );
    const gc = await gdo(cwd, "blob", "gc", "--grace", "0");
    assert.equal(gc.code, 0);
    assert.match(gc.out, new RegExp(`removed ${count} chunks \\(200000 bytes\\)`));
    assert.equal(storedChunks(cwd).size, 0);
  });

  it("should answer usage errors with exit 2 and unknown ids with a clear error", async () => {
    const cwd = workspace();
    assert.equal((await gdo(cwd, "blob", "put")).code, 2);
    assert.equal((await gdo(cwd, "blob", "gc", "--grace", "soon")).code, 2);
    assert.equal((await gdo(cwd, "blob", "frobnicate")).code, 2);
    const missing = await gdo(cwd, "blob", "get", "0".repeat(64), "-o", "x");
    assert.equal(missing.code, 3);
    assert.match(missing.err, /blob 0{64} is not in the store .*\[blob-not-found\]/);
    const bad = await gdo(cwd, "blob", "get", "../../etc/passwd");
    assert.equal(bad.code, 3);
    assert.match(bad.err, /\[invalid-id\]/);
    const nofile = await gdo(cwd, "blob", "put", "nope.tar");
    assert.equal(nofile.code, 3);
    assert.match(nofile.err, /nope\.tar: no such file/);
    for (const sub of ["put", "get", "ls", "check", "gc", "stats"]) {
      const help = await gdo(cwd, "blob", sub, "--help");
      assert.equal(help.code, 0);
      assert.match(help.out, new RegExp(`usage: .*blob ${sub}`));
    }
  });

  it("should pipe a blob through stdin and stdout of a real gdo process", () => {
    const cwd = workspace();
    const data = randomBytes(1_500_000);
    const run = (args: string[], input?: Buffer) =>
      spawnSync(
        nodeBin,
        [join(projectRoot, "cli", "main.ts"), ...args, "--data", join(cwd, "data")],
        {
          cwd,
          input,
          maxBuffer: 64 * 1024 * 1024,
        },
      );
    const put = run(["blob", "put", "-"], data);
    assert.equal(put.status, 0, put.stderr.toString());
    const id = put.stdout.toString().trim();
    const get = run(["blob", "get", id]);
    assert.equal(get.status, 0, get.stderr.toString());
    assert.equal(
      createHash("sha256").update(get.stdout).digest("hex"),
      createHash("sha256").update(data).digest("hex"),
    );
    const check = run(["blob", "check", "--read-data"]);
    assert.equal(check.status, 0);
  });
});
