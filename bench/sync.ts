/**
 * `npm run bench -- sync [blocks] [blobMiB]`: two nodes on loopback, each in
 * its own process as on two machines (the second is `_sync-peer.ts`). Measures
 *   1. a fresh node joining a ledger of `blocks` blocks (default 10,000): blocks/s;
 *   2. the chunk transfer of a `blobMiB` blob (default 256) from one node to the
 *      other, next to a raw Noise+Yamux stream of the same bytes over the same
 *      connection (the baseline), and the ratio.
 * Targets (issue 6): 10,000 blocks in under 10 s; blob ≥ 0.7× raw.
 *
 * `GDO_BENCH_PROFILE=DIR` writes CPU profiles of both nodes' main threads for
 * each measured phase only (join, blob and raw .cpuprofile for the serving
 * node; join-peer, blob-peer and raw-peer .cpuprofile for the fetching one).
 */
import { fork, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  closeSync,
  fsyncSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from "node:fs";
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
import type { PeerRequest } from "./_sync-peer.ts";

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
type Peer = Awaited<ReturnType<typeof startPeer>>;
/** Starts profiling both nodes (or only one: the fetch phase starts them apart). */
async function profileStart(peer: Peer, which: "both" | "self" | "peer" = "both"): Promise<void> {
  if (!profiler) return;
  if (which !== "peer") await profiler.post("Profiler.start");
  if (which !== "self") await peer.ask({ kind: "profile", start: true });
}
async function profileStop(peer: Peer, name: string): Promise<void> {
  if (!profiler) return;
  const { profile } = await profiler.post("Profiler.stop");
  writeFileSync(join(profileDir!, `${name}.cpuprofile`), JSON.stringify(profile));
  const path = join(profileDir!, `${name}-peer.cpuprofile`);
  await peer.ask({ kind: "profile", start: false, path });
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
  if (!main) throw new Error("bench ledger has no main");

  const b = await startPeer();
  await profileStart(b);
  t = performance.now();
  await b.ask({ kind: "start", dataDir: bDir, bootstrap: a.addresses[0]!, cwd: root });
  const bRepo = join(bDir, "ledger.git", "refs", "heads", "main");
  await until(() => readFileSync(bRepo, { flag: "r" }).toString().trim() === main, 300_000, 10);
  const joinS = (performance.now() - t) / 1000;
  await profileStop(b, "join");
  log(
    `ledger    fresh node synced ${blocks} blocks in ${joinS.toFixed(2)} s: ${Math.round(blocks / joinS)} blocks/s (target: < 10 s)`,
  );

  // Blob: put on A through its API; B times its own fetch, from the moment
  // its main moves to the block naming the blob until every chunk is stored
  // (in its own process: polling it from here would load it).
  const size = blobMiB * 1024 * 1024;
  const content = randomBytes(size);
  await profileStart(b, "peer");
  const fetched = b.ask({ kind: "fetch", after: main, bytes: size }) as Promise<Timed>;
  const put = await postBlob(a, aDir, content);
  await profileStart(b, "self");
  const senderCpu = process.cpuUsage();
  const blob = await fetched;
  const blobSenderCpu = seconds(process.cpuUsage(senderCpu));
  await profileStop(b, "blob");
  const blobRate = blobMiB / blob.seconds;
  log(
    `blob      ${blobMiB} MiB (${put.id.slice(0, 12)}) in ${blob.seconds.toFixed(2)} s: ${blobRate.toFixed(1)} MiB/s`,
  );

  // Baseline: the same bytes as a raw stream over the same connection, in
  // 256 KiB sends, from memory.
  const RAW = "/gdo/bench-raw/1";
  const SEND = 256 * 1024;
  await a.libp2p.handle(RAW, async (stream) => {
    for (let sent = 0; sent < size; sent += SEND) {
      if (!stream.send(content.subarray(sent, sent + SEND))) await stream.onDrain();
    }
    await stream.close();
  });
  await profileStart(b);
  const rawSenderCpu0 = process.cpuUsage();
  const raw = (await b.ask({
    kind: "raw",
    address: a.addresses[0]!,
    protocol: RAW,
  })) as Timed & { bytes: number };
  const rawSenderCpu = seconds(process.cpuUsage(rawSenderCpu0));
  await profileStop(b, "raw");
  const rawRate = raw.bytes / 1024 / 1024 / raw.seconds;
  log(
    `raw       ${(raw.bytes / 1024 / 1024).toFixed(0)} MiB Noise+Yamux stream in ${raw.seconds.toFixed(2)} s: ${rawRate.toFixed(1)} MiB/s (baseline)`,
  );
  log(`ratio     blob / raw = ${(blobRate / rawRate).toFixed(2)} (target ≥ 0.7)`);
  // CPU time (user + system, all threads) of each node over each phase: on
  // loopback both nodes share the machine's cores, so either side's extra
  // work slows the transfer.
  log(
    `cpu       blob: sender ${blobSenderCpu.toFixed(2)} s, receiver ${blob.cpu.toFixed(2)} s; raw: sender ${rawSenderCpu.toFixed(2)} s, receiver ${raw.cpu.toFixed(2)} s`,
  );
  const disk = pageCacheCost(join(bDir, "page-cost.bin"), content);
  log(
    `disk      the same bytes written to a new file beside the receiver's store: ${disk.cpu.toFixed(2)} s CPU (${disk.seconds.toFixed(2)} s): what storing them costs this machine's kernel at least`,
  );
  const { rss } = (await b.ask({ kind: "status" })) as PeerStatus;
  log(`memory    receiving node's rss after the run ${(rss / 1024 / 1024).toFixed(0)} MiB`);
  await b.ask({ kind: "stop" });
  await a.stop();
} finally {
  rmSync(root, { recursive: true, force: true });
}

interface PeerStatus {
  rss: number;
}

/** What the peer measured of a phase: wall time and its own CPU time, in seconds. */
interface Timed {
  seconds: number;
  cpu: number;
}

/** CPU seconds (user + system, all threads) in a `process.cpuUsage` reading. */
function seconds(u: NodeJS.CpuUsage): number {
  return (u.user + u.system) / 1e6;
}

/**
 * Writes `content` to a new file at `path` (4 MiB writes, one fsync) and
 * removes it: the CPU time is what new page-cache pages and the filesystem
 * cost here, which the receiving node pays for every byte it stores and the
 * raw stream never does. (On a VM whose free memory is handed back to the
 * host, new pages cost several times what reused ones do.)
 */
function pageCacheCost(path: string, content: Buffer): Timed {
  const t = performance.now();
  const cpu = process.cpuUsage();
  const fd = openSync(path, "w");
  try {
    for (let at = 0; at < content.length; at += 4 * 1024 * 1024) {
      writeSync(fd, content.subarray(at, at + 4 * 1024 * 1024));
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  const result = { seconds: (performance.now() - t) / 1000, cpu: seconds(process.cpuUsage(cpu)) };
  rmSync(path);
  return result;
}

/** The second node's process, ready for requests (one at a time). */
async function startPeer(): Promise<{ ask(request: PeerRequest): Promise<unknown> }> {
  const child = fork(join(import.meta.dirname, "_sync-peer.ts"), {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  process.once("exit", () => child.kill());
  let pending: { done(m: unknown): void; fail(e: Error): void } | undefined;
  child.on("message", (m) => pending?.done(m));
  child.on("exit", (code) => pending?.fail(new Error(`bench peer exited (${code})`)));
  const next = () =>
    new Promise<Record<string, unknown>>((done, fail) => {
      pending = { done: (m) => done(m as Record<string, unknown>), fail };
    });
  await next();
  return {
    async ask(request) {
      const answer = next();
      child.send(request);
      const value = await answer;
      if (typeof value.error === "string") throw new Error(value.error);
      return value;
    },
  };
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

function postBlob(node: RunningNode, dataDir: string, content: Buffer): Promise<{ id: string }> {
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
      while (sent < content.length) {
        const slice = content.subarray(sent, sent + piece);
        sent += slice.length;
        if (!req.write(slice)) {
          req.once("drain", pump);
          return;
        }
      }
      req.end();
    };
    pump();
  });
}
