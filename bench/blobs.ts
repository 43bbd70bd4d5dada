/**
 * `npm run bench -- blobs [MiB]`: the blob store's throughput, each figure
 * next to a baseline measured in the same run on the same bytes.
 *
 *   sha256      one SHA-256 pass (node:crypto), the baseline
 *   chunk       FastCDC with the default parameters, streamed in blocks
 *   put (new)   chunk + hash (worker threads) + write every chunk durably
 *   put (again) the same bytes again: every chunk already stored
 *   disk        writing the same number of chunk-sized files with fsync,
 *               the floor under "put (new)"
 *
 * Input: 512 MiB of random bytes (or the MiB given), and, when a Docker
 * engine answers, two versions of a small image differing by one file.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createHash, randomBytes, randomFillSync } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { openBlobStore } from "../ledger/blobs/blob-store.ts";
import { type ByteReader, chunkStream } from "../ledger/blobs/chunk-stream.ts";
import { DEFAULT_CHUNKER, formatChunkerParams } from "../ledger/blobs/chunker-params.ts";
import { FastCdcCutter } from "../ledger/blobs/fastcdc.ts";

const MiB = 1024 * 1024;
const size = Number(process.argv[2] ?? 512) * MiB;
const work = mkdtempSync(join(process.env.GDO_BENCH_DIR ?? tmpdir(), "gdo-bench-blobs-"));

function reader(data: Uint8Array): ByteReader {
  let pos = 0;
  return {
    async read(into, offset, length) {
      const n = Math.min(length, data.length - pos, 4 * MiB);
      into.set(data.subarray(pos, pos + n), offset);
      pos += n;
      return n;
    },
  };
}

async function timed<T>(fn: () => Promise<T> | T): Promise<[T, number]> {
  const start = performance.now();
  const value = await fn();
  return [value, (performance.now() - start) / 1000];
}

const rate = (bytes: number, seconds: number) => bytes / MiB / seconds;
const fmt = (mibs: number) => `${mibs.toFixed(0).padStart(6)} MiB/s`;

async function measure(label: string, data: Uint8Array) {
  const mib = data.length / MiB;
  console.log(`\n${label}: ${mib.toFixed(1)} MiB`);
  const [, shaSeconds] = await timed(() => {
    const h = createHash("sha256");
    for (let o = 0; o < data.length; o += MiB) h.update(data.subarray(o, o + MiB));
    return h.digest("hex");
  });
  const [chunks, chunkSeconds] = await timed(async () => {
    let n = 0;
    for await (const batch of chunkStream({
      source: reader(data),
      cutter: new FastCdcCutter(DEFAULT_CHUNKER),
    })) {
      n += batch.chunks.length;
      batch.release();
    }
    return n;
  });
  const dataDir = join(work, `store-${label.replace(/\W+/g, "-")}`);
  const store = await openBlobStore({ dataDir });
  const [first, putSeconds] = await timed(() => store.put({ source: reader(data) }));
  const [, againSeconds] = await timed(() => store.put({ source: reader(data) }));
  await store.close();
  rmSync(dataDir, { recursive: true, force: true });

  const sha = rate(data.length, shaSeconds);
  const chunk = rate(data.length, chunkSeconds);
  const put = rate(data.length, putSeconds);
  const again = rate(data.length, againSeconds);
  console.log(`  sha256 (baseline)   ${fmt(sha)}`);
  console.log(
    `  chunk               ${fmt(chunk)}   ${(chunk / sha).toFixed(2)}x sha256   (${chunks} chunks, mean ${(data.length / chunks / 1024).toFixed(1)} KiB)`,
  );
  console.log(
    `  put (new data)      ${fmt(put)}   ${(put / sha).toFixed(2)}x sha256   (${first.newChunks} chunks written)`,
  );
  console.log(`  put (again)         ${fmt(again)}   ${(again / sha).toFixed(2)}x sha256`);
  return { chunks, first };
}

/** Writing `count` files of `bytes` each with the store's discipline (tmp, fsync, rename), 16 at a time. */
async function diskBaseline(count: number, bytes: number) {
  const dir = join(work, "disk");
  mkdirSync(dir, { recursive: true });
  const payload = randomBytes(bytes);
  let next = 0;
  const [, seconds] = await timed(() =>
    Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < count) {
          const i = next++;
          const handle = await open(join(dir, `${i}.tmp`), "wx");
          await handle.write(payload);
          await handle.sync();
          await handle.close();
          const { rename } = await import("node:fs/promises");
          await rename(join(dir, `${i}.tmp`), join(dir, String(i)));
        }
      }),
    ),
  );
  rmSync(dir, { recursive: true, force: true });
  console.log(
    `  disk (${count} x ${(bytes / 1024).toFixed(0)} KiB files, fsync each)   ${fmt(rate(count * bytes, seconds))}`,
  );
}

/** Two images built FROM scratch that differ by one file, as the Docker test builds them. */
function dockerImages(): [Buffer, Buffer] | undefined {
  if (spawnSync("docker", ["info"], { stdio: "ignore", timeout: 20_000 }).status !== 0)
    return undefined;
  const context = join(work, "image");
  const file = (path: string, data: Buffer | string) => {
    mkdirSync(dirname(join(context, path)), { recursive: true });
    writeFileSync(join(context, path), data);
  };
  const words =
    "the of and to in is for node ledger block chunk config value return function".split(" ");
  const text = (n: number) => {
    let s = "";
    while (s.length < n)
      s += `${Array.from({ length: 8 }, () => words[Math.floor(Math.random() * words.length)]).join(" ")}\n`;
    return s.slice(0, n);
  };
  for (let i = 0; i < 8; i++) file(`base/usr/lib/lib${i}.so`, randomBytes(400_000 + i * 50_000));
  for (let i = 0; i < 40; i++) file(`base/usr/share/doc/pkg${i}/README`, text(5_000 + i * 1_000));
  for (let i = 0; i < 6; i++) file(`app/assets/image${i}.png`, randomBytes(200_000));
  file("app/server.js", text(400_000));
  file("Dockerfile", "FROM scratch\nCOPY base/ /\nCOPY app/ /app/\n");
  const tag = `gdo-bench-blobs-${process.pid}`;
  const save = (version: string) => {
    execFileSync("docker", ["build", "-q", "-t", `${tag}:${version}`, context], {
      env: { ...process.env, DOCKER_BUILDKIT: "0" },
      stdio: ["ignore", "ignore", "pipe"],
    });
    const out = join(work, `${version}.tar`);
    execFileSync("docker", ["save", "-o", out, `${tag}:${version}`]);
    execFileSync("docker", ["rmi", "-f", `${tag}:${version}`], { stdio: "ignore" });
    return readFileSync(out);
  };
  const v1 = save("v1");
  const server = readFileSync(join(context, "app/server.js"), "utf8");
  file(
    "app/server.js",
    `${server.slice(0, 200_000)}const patched = "v2";\n${server.slice(200_100)}`,
  );
  return [v1, save("v2")];
}

try {
  console.log(`gdo blob store benchmark — chunker ${formatChunkerParams(DEFAULT_CHUNKER)}`);
  console.log(`node ${process.version}, work folder ${work}`);
  const data = Buffer.allocUnsafe(size);
  for (let o = 0; o < size; o += 16 * MiB) randomFillSync(data, o, Math.min(16 * MiB, size - o));
  const { first } = await measure("random data", data);
  await diskBaseline(Math.min(first.newChunks, 4096), Math.round(first.newBytes / first.newChunks));

  const images = dockerImages();
  if (!images) console.log("\ndocker images: skipped (no Docker engine answers `docker info`)");
  else {
    await measure("docker image v1 (docker save)", images[0]);
    await measure("docker image v2 (one file changed)", images[1]);
    const store = await openBlobStore({ dataDir: join(work, "images") });
    const v1 = await store.put({ source: reader(images[0]) });
    const v2 = await store.put({ source: reader(images[1]) });
    const stats = await store.stats();
    await store.close();
    console.log(
      `\nimages together: logical ${stats.logicalBytes} bytes, stored ${stats.storedBytes} bytes (dedup ${stats.dedupRatio.toFixed(2)}); v2 added ${v2.newBytes} bytes = ${((100 * v2.newBytes) / v2.manifest.size).toFixed(2)}% of its size (${v2.newChunks} of ${v2.manifest.chunks.length} chunks; v1 ${v1.manifest.chunks.length} chunks)`,
    );
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
