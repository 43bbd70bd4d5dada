/**
 * `npm run bench -- sync [blocks] [blobMiB]`: two nodes in one process on
 * loopback. Measures
 *   1. a fresh node joining a ledger of `blocks` blocks (default 10,000): blocks/s;
 *   2. the chunk transfer of a `blobMiB` blob (default 256) from one node to the
 *      other, next to a raw Noise+Yamux stream of the same bytes over the same
 *      connection (the baseline), and the ratio.
 * Targets (issue 6): 10,000 blocks in under 10 s; blob ≥ 0.7× raw.
 *
 * `GDO_BENCH_PROFILE=DIR` writes a CPU profile of the main thread for each
 * measured phase only (join.cpuprofile, blob.cpuprofile), not of the setup.
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { Session } from "node:inspector/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serializeMember } from "../ledger/charter.ts";
import { writeKeyFile } from "../ledger/keyfile.ts";
import { Ledger } from "../ledger/ledger.ts";
import { generateKey } from "../ledger/sshkey.ts";
import { DEFAULT_CONFIG, type NodeConfig } from "../node/config.ts";
import { type RunningNode, startNode } from "../node/daemon.ts";

const blocks = Number(process.argv[2] ?? 10_000);
const blobMiB = Number(process.argv[3] ?? 256);
const root = mkdtempSync(join(tmpdir(), "gdo-bench-sync-"));
const text = (s: string) => new TextEncoder().encode(s);
const log = (line: string) => process.stdout.write(`${line}\n`);
const quiet = () => {};
const profileDir = process.env.GDO_BENCH_PROFILE;
const profiler = profileDir ? new Session() : undefined;
if (profiler) {
  profiler.connect();
  await profiler.post("Profiler.enable");
  await profiler.post("Profiler.setSamplingInterval", { interval: 500 });
}
async function profileStart(): Promise<void> {
  await profiler?.post("Profiler.start");
}
async function profileStop(name: string): Promise<void> {
  if (!profiler) return;
  const { profile } = await profiler.post("Profiler.stop");
  writeFileSync(join(profileDir!, `${name}.cpuprofile`), JSON.stringify(profile));
}

try {
  const alice = generateKey("alice");
  const bob = generateKey("bob");
  const aDir = join(root, "a");
  const bDir = join(root, "b");
  await writeKeyFile({ path: join(aDir, "key"), key: alice });
  await writeKeyFile({ path: join(bDir, "key"), key: bob });

  let t = performance.now();
  const { ledger } = await Ledger.create({
    gitdir: join(aDir, "ledger.git"),
    key: alice,
    founder: "alice",
    name: "Bench",
    durable: false,
  });
  await ledger.commit({
    key: alice,
    message: "Add bob",
    edits: [
      {
        path: "charter/members/bob.yaml",
        content: text(
          serializeMember({
            name: "bob",
            key: bob.publicKey.keyText,
            roles: ["device"],
            added: "2026-11-25",
          }),
        ),
      },
    ],
  });
  for (let i = 3; i <= blocks; i++) {
    // Logs fan out in folders of 100 files, as a door's daily logs would.
    await ledger.commit({
      key: alice,
      message: `swipe ${i}`,
      edits: [
        { path: `logs/alice/${Math.floor(i / 100)}/${i % 100}.log`, content: text(`badge ${i}\n`) },
      ],
    });
  }
  // The setup's writes reach the disk before anything is timed: otherwise
  // their writeback competes with the measured phases' file writes.
  spawnSync("sync", { stdio: "ignore" });
  log(
    `setup     ${blocks}-block ledger written in ${((performance.now() - t) / 1000).toFixed(1)} s (not measured)`,
  );

  const config = (extra: Partial<NodeConfig>): NodeConfig => ({
    ...structuredClone(DEFAULT_CONFIG),
    listen: ["/ip4/127.0.0.1/tcp/0"],
    mdns: false,
    httpPort: 0,
    ...extra,
  });
  const common = {
    cwd: root,
    founder: "x",
    organisation: "x",
    genesisFiles: async () => [],
    log: quiet,
  };
  const a = await startNode({
    ...common,
    dataDir: aDir,
    keyPath: join(aDir, "key"),
    ledgerPath: join(aDir, "ledger.git"),
    config: config({}),
  });
  const main = await ledger.head();

  await profileStart();
  t = performance.now();
  const b = await startNode({
    ...common,
    dataDir: bDir,
    keyPath: join(bDir, "key"),
    ledgerPath: join(bDir, "ledger.git"),
    config: config({ bootstrap: [a.addresses[0]!] }),
  });
  const bRepo = join(bDir, "ledger.git", "refs", "heads", "main");
  await until(() => readFileSync(bRepo, { flag: "r" }).toString().trim() === main, 300_000, 10);
  const joinS = (performance.now() - t) / 1000;
  await profileStop("join");
  log(
    `ledger    fresh node synced ${blocks} blocks in ${joinS.toFixed(2)} s: ${Math.round(blocks / joinS)} blocks/s (target: < 10 s)`,
  );

  // Blob: put on A through its API, then time B's chunk fetch.
  const size = blobMiB * 1024 * 1024;
  const put = await postBlob(a, aDir, size);
  await profileStart();
  const s0 = (await b.status()).sync.chunks.fetchedBytes;
  let started = 0;
  await until(
    async () => {
      const s = await b.status();
      if (!started && s.sync.chunks.fetchedBytes > s0) started = performance.now();
      return s.sync.chunks.fetchedBytes - s0 >= size && s.sync.chunks.missingChunks === 0;
    },
    600_000,
    100,
  );
  const blobS = (performance.now() - started) / 1000;
  await profileStop("blob");
  const blobRate = blobMiB / blobS;
  log(
    `blob      ${blobMiB} MiB (${put.id.slice(0, 12)}) in ${blobS.toFixed(2)} s: ${blobRate.toFixed(1)} MiB/s`,
  );

  // Baseline: the same bytes as a raw stream over the same connection.
  const RAW = "/gdo/bench-raw/1";
  const frame = randomBytes(256 * 1024);
  await a.libp2p.handle(RAW, async (stream) => {
    for (let sent = 0; sent < size; sent += frame.length) {
      if (!stream.send(frame)) await stream.onDrain();
    }
    await stream.close();
  });
  t = performance.now();
  const stream = await b.libp2p.dialProtocol(a.libp2p.peerId, RAW);
  let got = 0;
  for await (const piece of stream) got += piece.byteLength;
  const rawS = (performance.now() - t) / 1000;
  const rawRate = got / 1024 / 1024 / rawS;
  log(
    `raw       ${(got / 1024 / 1024).toFixed(0)} MiB Noise+Yamux stream in ${rawS.toFixed(2)} s: ${rawRate.toFixed(1)} MiB/s (baseline)`,
  );
  log(`ratio     blob / raw = ${(blobRate / rawRate).toFixed(2)} (target ≥ 0.7)`);
  const rss = (await b.status()).node.memory.rss;
  log(
    `memory    process rss after the run ${(rss / 1024 / 1024).toFixed(0)} MiB (two nodes in one process)`,
  );
  await b.stop();
  await a.stop();
} finally {
  rmSync(root, { recursive: true, force: true });
}

async function until(check: () => Promise<boolean> | boolean, timeoutMs: number, everyMs = 25) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    let ok = false;
    try {
      ok = await check();
    } catch {}
    if (ok) return;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error("benchmark timed out");
}

function postBlob(node: RunningNode, dataDir: string, size: number): Promise<{ id: string }> {
  const token = readFileSync(join(dataDir, "api-token"), "utf8").trim();
  return new Promise((done, fail) => {
    const req = request(
      `http://127.0.0.1:${node.httpPort}/api/blobs?path=blobs/bench.bin.blob`,
      { method: "POST", headers: { authorization: `Bearer ${token}` }, agent: false },
      (res) => {
        const parts: Buffer[] = [];
        res.on("data", (d: Buffer) => parts.push(d));
        res.on("end", () => {
          const value = JSON.parse(Buffer.concat(parts).toString("utf8"));
          if (res.statusCode !== 200) fail(new Error(JSON.stringify(value)));
          else done(value);
        });
      },
    );
    req.on("error", fail);
    const piece = 4 * 1024 * 1024;
    let sent = 0;
    const pump = () => {
      while (sent < size) {
        sent += piece;
        if (!req.write(randomBytes(piece))) {
          req.once("drain", pump);
          return;
        }
      }
      req.end();
    };
    pump();
  });
}
