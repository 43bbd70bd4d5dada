/**
 * Two versions of a small container image that differ by one file, built by
 * the local Docker engine (FROM scratch, no registry needed) and saved with
 * `docker save`. The Docker dedup test and `bench/blobs.ts` both use it, so
 * the benchmark measures exactly the images the test asserts on. The content
 * is deterministic (xorshift32), about 16 MB of varied files: libraries,
 * binaries, docs, configs, an app and its assets.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

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

function randomFrom(r: () => number, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i += 4) b.writeUInt32LE(r(), Math.min(i, n - 4));
  return b;
}

/** A binary with structure: sections of code-like repeats, tables and random data. */
function binary(size: number, seed: number): Buffer {
  const r = prng(seed);
  const out = Buffer.alloc(size);
  let o = 0;
  while (o < size) {
    const kind = r() % 3;
    const n = Math.min(size - o, 512 + (r() % 8192));
    if (kind === 0) out.set(randomFrom(r, n), o);
    else if (kind === 1) for (let i = 0; i < n; i++) out[o + i] = (i * 31 + (r() & 3)) & 0xff;
    else out.write(text(n, r()), o, "latin1");
    o += n;
  }
  return out;
}

function write(path: string, data: string | Buffer) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, data);
}

/** Writes the build context of version 1 (files and Dockerfile) under `root`. */
export function makeImageContext(root: string): void {
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
    write(join(root, "app/assets", `image${i}.png`), randomFrom(r, 150_000 + (r() % 350_000)));
  for (let i = 0; i < 12; i++)
    write(join(root, "app/lib", `module${i}.js`), text(20_000 + (r() % 150_000), r()));
  write(join(root, "app/server.js"), text(400_000, 7));
  write(join(root, "Dockerfile"), "FROM scratch\nCOPY base/ /\nCOPY app/ /app/\n");
}

/** Version 2: one file changes, a few lines edited in the middle of the app's main script. */
export function patchImageContext(root: string): void {
  const server = join(root, "app/server.js");
  const source = readFileSync(server, "utf8");
  writeFileSync(
    server,
    `${source.slice(0, 200_000)}const patched = "v2"; // bug fix\n${source.slice(200_100)}`,
  );
}

/** Builds `context` as `tag` with the classic builder (no buildx, no registry) and saves it to `out`. */
export function buildAndSave(context: string, tag: string, out: string): void {
  execFileSync("docker", ["build", "-q", "-t", tag, context], {
    env: { ...process.env, DOCKER_BUILDKIT: "0" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  execFileSync("docker", ["save", "-o", out, tag], { stdio: ["ignore", "ignore", "pipe"] });
}
