import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, it } from "node:test";
import { openBlobStore } from "../../../ledger/blobs/blob-store.ts";
import { needs } from "../../helpers/system.ts";

/**
 * Real container images: two versions of a small image built by the local
 * Docker engine (FROM scratch, no registry needed) that differ by one file,
 * saved with `docker save` and put into one store. The second version must add
 * at most 5% of its size: the tarball is mostly the same bytes at shifted
 * offsets, which is what content-defined chunking is for.
 */

const dirs: string[] = [];
const tags: string[] = [];
after(() => {
  for (const tag of tags) {
    try {
      execFileSync("docker", ["rmi", "-f", tag], { stdio: "ignore" });
    } catch {}
  }
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Deterministic xorshift32 bytes, so the image content is the same on every run. */
function prng(seed: number) {
  let x = seed || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

const WORDS =
  "the of and to in is for on with as by that this from be are it at or an was which service request node ledger block chunk config value error return function import export const let if else while true false null".split(
    " ",
  );

function text(size: number, seed: number): string {
  const r = prng(seed);
  let s = "";
  while (s.length < size) {
    const n = 4 + (r() % 12);
    const line: string[] = [];
    for (let i = 0; i < n; i++) line.push(WORDS[r() % WORDS.length]!);
    s += `${line.join(" ")}${r() % 7 === 0 ? ";" : ""}\n`;
  }
  return s.slice(0, size);
}

/** A binary with structure: sections of code-like repeats, tables and random data. */
function binary(size: number, seed: number): Buffer {
  const r = prng(seed);
  const out = Buffer.alloc(size);
  let o = 0;
  while (o < size) {
    const kind = r() % 3;
    const n = Math.min(size - o, 512 + (r() % 8192));
    if (kind === 0) out.set(randomBytesFrom(r, n), o);
    else if (kind === 1) for (let i = 0; i < n; i++) out[o + i] = (i * 31 + (r() & 3)) & 0xff;
    else out.write(text(n, r()), o, "latin1");
    o += n;
  }
  return out;
}

function randomBytesFrom(r: () => number, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i += 4) b.writeUInt32LE(r(), Math.min(i, n - 4));
  return b;
}

function write(path: string, data: string | Buffer) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, data);
}

/** ~16 MB of varied files: libraries, binaries, docs, configs, an app and its assets. */
function makeContext(root: string) {
  const r = prng(2026);
  for (let i = 0; i < 8; i++)
    write(join(root, "base/usr/lib", `lib${i}.so.1`), binary(300_000 + (r() % 600_000), r()));
  for (let i = 0; i < 5; i++)
    write(join(root, "base/usr/bin", `tool${i}`), binary(200_000 + (r() % 400_000), r()));
  for (let i = 0; i < 40; i++)
    write(join(root, "base/usr/share/doc", `pkg${i}/README`), text(5_000 + (r() % 60_000), r()));
  for (let i = 0; i < 60; i++)
    write(join(root, "base/etc", `conf${i}.conf`), text(200 + (r() % 4_000), r()));
  for (let i = 0; i < 6; i++)
    write(join(root, "app/assets", `image${i}.png`), randomBytesFrom(r, 150_000 + (r() % 350_000)));
  for (let i = 0; i < 12; i++)
    write(join(root, "app/lib", `module${i}.js`), text(20_000 + (r() % 150_000), r()));
  write(join(root, "app/server.js"), text(400_000, 7));
  write(join(root, "Dockerfile"), "FROM scratch\nCOPY base/ /\nCOPY app/ /app/\n");
}

function build(context: string, tag: string, out: string) {
  tags.push(tag);
  execFileSync("docker", ["build", "-q", "-t", tag, context], {
    env: { ...process.env, DOCKER_BUILDKIT: "0" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  execFileSync("docker", ["save", "-o", out, tag], { stdio: ["ignore", "ignore", "pipe"] });
}

describe("blob store with real container images", () => {
  it("should store a second image version that differs by one file in at most 5% more bytes", {
    skip: needs("docker"),
  }, async (t) => {
    const work = mkdtempSync(join(tmpdir(), "gdo-blob-docker-"));
    dirs.push(work);
    const context = join(work, "context");
    makeContext(context);
    const name = `gdo-blob-test-${process.pid}`;
    build(context, `${name}:v1`, join(work, "v1.tar"));
    // One file changes: a few lines edited in the middle of the app's main script.
    const server = join(context, "app/server.js");
    const source = readFileSync(server, "utf8");
    writeFileSync(
      server,
      `${source.slice(0, 200_000)}const patched = "v2"; // bug fix\n${source.slice(200_100)}`,
    );
    build(context, `${name}:v2`, join(work, "v2.tar"));

    const store = await openBlobStore({ dataDir: join(work, "data") });
    try {
      const put = async (file: string) => {
        const handle = await (await import("node:fs/promises")).open(file, "r");
        try {
          return await store.put({
            source: {
              read: async (into, offset, length) =>
                (await handle.read(into, offset, length, null)).bytesRead,
            },
          });
        } finally {
          await handle.close();
        }
      };
      const v1 = await put(join(work, "v1.tar"));
      const v2 = await put(join(work, "v2.tar"));
      const size1 = statSync(join(work, "v1.tar")).size;
      const size2 = statSync(join(work, "v2.tar")).size;
      assert.equal(v1.manifest.size, size1);
      assert.equal(v2.manifest.size, size2);
      const stats = await store.stats();
      const ratio = v2.newBytes / size2;
      t.diagnostic(
        `v1 ${size1} bytes (${v1.manifest.chunks.length} chunks); v2 ${size2} bytes, ${v2.newChunks} new chunks, ${v2.newBytes} new bytes = ${(ratio * 100).toFixed(2)}%; logical ${stats.logicalBytes}, stored ${stats.storedBytes}, dedup ${stats.dedupRatio.toFixed(2)}`,
      );
      assert.ok(size1 > 10_000_000, `the image is ${size1} bytes`);
      assert.ok(ratio <= 0.05, `v2 added ${(ratio * 100).toFixed(2)}% of its size`);
      assert.equal(stats.logicalBytes, size1 + size2);
      assert.equal(stats.storedBytes, v1.newBytes + v2.newBytes);
      const back: Uint8Array[] = [];
      for await (const piece of store.get({ id: v2.id })) back.push(piece);
      assert.ok(Buffer.concat(back).equals(readFileSync(join(work, "v2.tar"))));
    } finally {
      await store.close();
    }
  });
});
