/**
 * `npm run bench -- sync [blocks] [blobMiB] [rounds]`: two nodes on loopback,
 * each in a process of its own as on two machines (`_sync-peer.ts`; this
 * process writes the ledger, then only orchestrates). Measures
 *   1. a fresh node joining a ledger of `blocks` blocks (default 10,000): blocks/s;
 *   2. the chunk transfer of a `blobMiB` blob (default 256) from one node to the
 *      other, next to a raw Noise+Yamux stream of as many bytes over the same
 *      connection (the baseline), and the ratio, in `rounds` rounds (default
 *      5: this VM's speed moves by a quarter between rounds) of a new blob
 *      then the raw stream, after a blob of the same size that warms the
 *      chunk path up (its time is printed, not counted), reporting each
 *      round and the medians; the same stream stored by the receiver as it
 *      arrives, and the ratio to that (for reference); each node's CPU time;
 *      what writing those bytes to a new file costs this machine; and what
 *      hashing them costs (the receiver's one cost the raw stream lacks and
 *      the blob path cannot leave out), next to both transfers' CPU.
 * Targets (issue 6): 10,000 blocks in under 10 s; blob ≥ 0.7× raw.
 *
 * Each phase's CPU is also shown by kind of thread (Linux): the JS main
 * thread, V8's helpers (mostly garbage collection), the file-system pool.
 * `GDO_BENCH_PEER_FLAGS="--trace-gc …"` passes more V8 flags to both nodes.
 *
 * `GDO_BENCH_IDLE_S=30` also prints the receiving node's RSS after that long idle.
 *
 * `GDO_BENCH_PROFILE=DIR` writes CPU profiles of both nodes' main threads for
 * each measured phase only (`join-a`, `join-b`, `blob-a`, … `.cpuprofile`; of
 * the blob and raw phases, the last round;
 * a serves, b fetches).
 *
 * `GDO_BENCH_WINDOWS=1` prints each measured phase's span in CLOCK_MONOTONIC
 * seconds, so a system-wide profile (every thread, the kernel's share too)
 * can be cut to it: `perf record -k CLOCK_MONOTONIC -a -g -- npm run bench
 * -- sync …`, then `perf report --time START,END` (RFC 7).
 */

import { fork, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serializeMember } from "../ledger/charter.ts";
import { writeKeyFile } from "../ledger/keyfile.ts";
import { Ledger } from "../ledger/ledger.ts";
import { generateKey } from "../ledger/sshkey.ts";
import { NODE_ENV, nodeFlags } from "../node/process-options.ts";
import { benchContent } from "./_content.ts";
import { formatGc, type GcCount, gcDelta } from "./_gc.ts";
import { appendSwipes } from "./_history.ts";
import { postBlob } from "./_post-blob.ts";
import type { PeerRequest } from "./_sync-peer.ts";
import { formatThreadCpu, type ThreadCpu, threadCpuDelta } from "./_thread-cpu.ts";
import { until } from "./_until.ts";

const blocks = Number(process.argv[2] ?? 10_000);
const blobMiB = Number(process.argv[3] ?? 256);
const rounds = Math.max(1, Math.floor(Number(process.argv[4] ?? 5)));
const root = mkdtempSync(join(tmpdir(), "gdo-bench-sync-"));
const text = (s: string) => new TextEncoder().encode(s);
const log = (line: string) => process.stdout.write(`${line}\n`);
const profileDir = process.env.GDO_BENCH_PROFILE;
const printWindows = process.env.GDO_BENCH_WINDOWS === "1";
if (profileDir) mkdirSync(profileDir, { recursive: true });
type Node = Awaited<ReturnType<typeof startPeer>>;
/** Starts profiling `nodes`' main threads (with `GDO_BENCH_PROFILE`). */
async function profileStart(...nodes: Node[]): Promise<void> {
  if (!profileDir) return;
  for (const node of nodes) await node.ask({ kind: "profile", start: true });
}
/** Writes `<phase>-<name>.cpuprofile` for each node. */
async function profileStop(phase: string, nodes: Record<string, Node>): Promise<void> {
  if (!profileDir) return;
  for (const [name, node] of Object.entries(nodes)) {
    const path = join(profileDir, `${phase}-${name}.cpuprofile`);
    await node.ask({ kind: "profile", start: false, path });
  }
}
/** A node's CPU time so far (user + system), in seconds: in all, and by kind of thread. */
async function cpuOf(node: Node): Promise<Cpu> {
  return (await node.ask({ kind: "cpu" })) as unknown as Cpu;
}
/** A node's CPU time (and collections) since `before`. */
async function cpuSince(node: Node, before: Cpu): Promise<Cpu> {
  const now = await cpuOf(node);
  return {
    cpu: now.cpu - before.cpu,
    threads: threadCpuDelta(before.threads, now.threads),
    gc: gcDelta(before.gc, now.gc),
    faults: now.faults - before.faults,
  };
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
  await appendSwipes(ledger, alice, 3, blocks);
  // The setup's writes reach the disk before anything is timed: otherwise
  // their writeback competes with the measured phases' file writes.
  spawnSync("sync", { stdio: "ignore" });
  log(
    `setup     ${blocks}-block ledger written in ${((performance.now() - t) / 1000).toFixed(1)} s (not measured)`,
  );

  const main = await ledger.head();
  if (!main) throw new Error("bench ledger has no main");

  // Both nodes run in processes of their own, as on two machines; this one
  // only orchestrates (and holds the setup's ledger, idle from here on).
  const a = await startPeer();
  const started = (await a.ask({ kind: "start", dataDir: aDir, cwd: root })) as Started;
  const b = await startPeer();
  await profileStart(a, b);
  t = performance.now();
  await b.ask({ kind: "start", dataDir: bDir, bootstrap: started.addresses[0]!, cwd: root });
  const bRepo = join(bDir, "ledger.git", "refs", "heads", "main");
  // The ref file appears once the join has stored main.
  const joined = () => existsSync(bRepo) && readFileSync(bRepo, "utf8").trim() === main;
  await until(joined, { timeoutMs: 300_000, everyMs: 10, what: "join" });
  const joinS = (performance.now() - t) / 1000;
  await profileStop("join", { a, b });
  log(
    `ledger    fresh node synced ${blocks} blocks in ${joinS.toFixed(2)} s: ${Math.round(blocks / joinS)} blocks/s (target: < 10 s)`,
  );

  // Blob and raw stream, alternately for `rounds` rounds, each blob new to
  // the receiver: this VM's speed drifts within seconds (the raw stream alone
  // took 0.58–0.93 s in one hour), so the ratio is each round's blob against
  // the raw stream right after it, and the figures are the rounds' medians.
  //
  // Blob: put on A through its API; B times its own fetch, from the moment
  // its main moves to the block naming the blob until every chunk is stored
  // (in its own process: polling it from here would load it).
  // Raw: the same number of bytes as one stream over the same connection,
  // in 256 KiB sends from memory.
  const size = blobMiB * 1024 * 1024;
  const seed = `gdo-bench-${Date.now()}`;
  const RAW = "/gdo/bench-raw/1";
  await a.ask({ kind: "serveRaw", protocol: RAW, seed, size });
  // A blob of the same size first, not counted: the first transfers also
  // start the receiver's hashing threads and compile the chunk path's code,
  // which a node that has been running has done long before. V8 was still
  // compiling it through the second 256 MiB (RFC 7), so a 16 MiB warm-up, as
  // before, left the first rounds measuring the compiler.
  const warmUp = benchContent(`${seed}-warm-up`, size);
  const warmed = b.ask({ kind: "fetch", after: main, bytes: warmUp.length }) as Promise<Timed>;
  await postBlob(started.httpPort, aDir, warmUp, "bench-warm-up.bin");
  const cold = await warmed;
  log(
    `warm-up   blob in ${cold.seconds.toFixed(2)} s: ${(blobMiB / cold.seconds).toFixed(1)} MiB/s, ${cold.cpu.toFixed(2)} s CPU on the receiver (not counted: code still being compiled)`,
  );
  let after = readFileSync(bRepo, "utf8").trim();
  const measured: Round[] = [];
  let content: Buffer = Buffer.alloc(0);
  for (let round = 1; round <= rounds; round++) {
    content = benchContent(`${seed}-${round}`, size);
    // The last round is profiled: the first also pays for threads starting and code warming up.
    const profiled = round === rounds;
    if (profiled) await profileStart(b);
    const fetched = b.ask({ kind: "fetch", after, bytes: size }) as Promise<
      Timed & { refused: number; fetchedBytes: number }
    >;
    const put = await postBlob(started.httpPort, aDir, content, `bench-${round}.bin`);
    if (profiled) await profileStart(a);
    const blobSender0 = await cpuOf(a);
    const blob = await fetched;
    // Only missing chunks move: a chunk stored twice would show here.
    if (blob.fetchedBytes !== size) {
      log(
        `warning   round ${round} stored ${blob.fetchedBytes} chunk bytes for a ${size}-byte blob`,
      );
    }
    logWindow(`blob round ${round}`, blob.seconds);
    const blobSender = await cpuSince(a, blobSender0);
    if (profiled) await profileStop("blob", { a, b });
    after = readFileSync(bRepo, "utf8").trim();

    if (profiled) await profileStart(a, b);
    const rawSender0 = await cpuOf(a);
    const raw = (await b.ask({
      kind: "raw",
      address: started.addresses[0]!,
      protocol: RAW,
    })) as Timed & { bytes: number };
    logWindow(`raw round ${round}`, raw.seconds);
    const rawSender = await cpuSince(a, rawSender0);
    if (profiled) await profileStop("raw", { a, b });
    if (raw.bytes !== size) throw new Error(`raw stream carried ${raw.bytes} of ${size} bytes`);

    const r: Round = {
      blob,
      blobSender,
      raw,
      rawSender,
      blobRate: blobMiB / blob.seconds,
      rawRate: blobMiB / raw.seconds,
    };
    measured.push(r);
    // Full collections by round: on a node with a long history each marks
    // the whole heap, and a round with many of them is a slow one (RFC 7).
    log(
      `round ${round}   blob ${put.id.slice(0, 12)} in ${blob.seconds.toFixed(2)} s: ${r.blobRate.toFixed(1)} MiB/s, ${blob.refused} chunk(s) refused; raw in ${raw.seconds.toFixed(2)} s: ${r.rawRate.toFixed(1)} MiB/s; blob / raw = ${(r.blobRate / r.rawRate).toFixed(2)}; cpu (both nodes) blob ${(blob.cpu + blobSender.cpu).toFixed(2)} s, raw ${(raw.cpu + rawSender.cpu).toFixed(2)} s; full collections (sender/receiver) blob ${blobSender.gc.major}/${blob.gc.major}, raw ${rawSender.gc.major}/${raw.gc.major}`,
    );
  }
  const ratios = measured.map((r) => r.blobRate / r.rawRate);
  // The round whose ratio is the median stands for the others in the CPU lines below.
  const typicalIndex = medianIndex(ratios);
  const { blob, blobSender, raw, rawSender } = measured[typicalIndex]!;
  const blobRate = median(measured.map((r) => r.blobRate));
  log(
    `blob      ${blobMiB} MiB of chunks: ${blobRate.toFixed(1)} MiB/s (median of ${rounds}), ${measured.reduce((n, r) => n + r.blob.refused, 0)} chunk(s) refused`,
  );
  log(
    `raw       ${blobMiB} MiB Noise+Yamux stream: ${median(measured.map((r) => r.rawRate)).toFixed(1)} MiB/s (median of ${rounds}; baseline)`,
  );
  log(
    `ratio     blob / raw = ${ratios[typicalIndex]!.toFixed(2)} (median of the rounds' ${ratios.map((x) => x.toFixed(2)).join(", ")}; target ≥ 0.7)`,
  );
  // The same stream again, stored by the receiver as it arrives: what the
  // ratio would be against a baseline that also stores (it still does not
  // hash, read from disk or ask for anything).
  const storeIn = join(bDir, "raw-store.bin");
  const storedSender0 = await cpuOf(a);
  const stored = (await b.ask({
    kind: "raw",
    address: started.addresses[0]!,
    protocol: RAW,
    storeIn,
  })) as Timed & { bytes: number };
  const storedSender = await cpuSince(a, storedSender0);
  const storedRate = stored.bytes / 1024 / 1024 / stored.seconds;
  log(
    `raw+store the same stream stored as received (4 MiB writes, each fsynced) in ${stored.seconds.toFixed(2)} s: ${storedRate.toFixed(1)} MiB/s`,
  );
  log(`ratio     blob / raw+store = ${(blobRate / storedRate).toFixed(2)} (for reference)`);
  // CPU time (user + system, all threads) of each node over each phase: on
  // loopback both nodes share the machine's cores, so either side's extra
  // work slows the transfer.
  log(`cpu       round ${typicalIndex + 1} (the median ratio):`);
  log(
    `cpu       blob: sender ${blobSender.cpu.toFixed(2)} s, receiver ${blob.cpu.toFixed(2)} s; raw: sender ${rawSender.cpu.toFixed(2)} s, receiver ${raw.cpu.toFixed(2)} s; raw+store: sender ${storedSender.cpu.toFixed(2)} s, receiver ${stored.cpu.toFixed(2)} s`,
  );
  // Where it went, by kind of thread (Linux): V8's helpers are mostly
  // garbage collection, which every buffer allocated per message drives.
  for (const [phase, sender, receiver] of [
    ["blob", blobSender, blob],
    ["raw", rawSender, raw],
    ["raw+store", storedSender, stored],
  ] as const) {
    if (!sender.threads || !receiver.threads) break;
    log(
      `threads   ${phase}: sender ${formatThreadCpu(sender.threads)}; receiver ${formatThreadCpu(receiver.threads)}`,
    );
  }
  // Collections: a major one marks the whole heap, on V8's helper threads.
  for (const [phase, sender, receiver] of [
    ["blob", blobSender, blob],
    ["raw", rawSender, raw],
    ["raw+store", storedSender, stored],
  ] as const) {
    log(`gc        ${phase}: sender ${formatGc(sender.gc)}; receiver ${formatGc(receiver.gc)}`);
  }
  // A fault per new 4 KiB page: 65,536 per 256 MiB of memory touched for the first time.
  log(
    `faults    blob: sender ${blobSender.faults}, receiver ${blob.faults}; raw: sender ${rawSender.faults}, receiver ${raw.faults}; raw+store: sender ${storedSender.faults}, receiver ${stored.faults} (minor page faults)`,
  );
  // The stored copy stays until here: its pages, freed, would make this write cheaper.
  const disk = pageCacheCost(join(bDir, "page-cost.bin"), content);
  rmSync(storeIn, { force: true });
  log(
    `disk      the same bytes written to a new file beside the receiver's store: ${disk.cpu.toFixed(2)} s CPU (${disk.seconds.toFixed(2)} s): what storing them costs this machine's kernel at least`,
  );
  // The one cost the blob path cannot leave out: the receiver hashes every
  // chunk before it stores it. Alone on a core here, with nothing else running.
  const hashed = hashCost(content);
  const typicalRaw = raw.cpu + rawSender.cpu;
  log(
    `hashing   SHA-256 of the same bytes in 32 KiB pieces: ${hashed.toFixed(2)} s CPU; with the raw stream's ${typicalRaw.toFixed(2)} s that is ${(typicalRaw + hashed).toFixed(2)} s, against the blob's ${(blob.cpu + blobSender.cpu).toFixed(2)} s (round ${typicalIndex + 1}, both nodes)`,
  );
  const { rss } = (await b.ask({ kind: "status" })) as PeerStatus;
  log(`memory    receiving node's rss after the run ${(rss / 1024 / 1024).toFixed(0)} MiB`);
  // GDO_BENCH_IDLE_S=30: what the receiving node gives back once idle.
  const idleS = Number(process.env.GDO_BENCH_IDLE_S ?? 0);
  if (idleS > 0) {
    await new Promise((resolve) => setTimeout(resolve, idleS * 1000));
    const idle = ((await b.ask({ kind: "status" })) as PeerStatus).rss;
    log(
      `memory    receiving node's rss after ${idleS} s idle ${(idle / 1024 / 1024).toFixed(0)} MiB`,
    );
  }
  await b.ask({ kind: "stop" });
  await a.ask({ kind: "stop" });
} finally {
  rmSync(root, { recursive: true, force: true });
}

interface Round {
  blob: Timed & { refused: number };
  blobSender: Cpu;
  raw: Timed & { bytes: number };
  rawSender: Cpu;
  blobRate: number;
  rawRate: number;
}

/** The index of the median of `values` (the lower middle one of an even count). */
function medianIndex(values: number[]): number {
  const order = values.map((_, k) => k).sort((x, y) => values[x]! - values[y]!);
  return order[Math.floor((order.length - 1) / 2)]!;
}

function median(values: number[]): number {
  return values[medianIndex(values)]!;
}

interface PeerStatus {
  rss: number;
}

interface Started {
  addresses: string[];
  httpPort: number;
}

/**
 * CPU seconds: in all, and by kind of thread where the system tells; the
 * collections; and the minor page faults (memory the kernel had to hand the
 * process: on a VM whose free memory goes back to the host, each is costly).
 */
interface Cpu {
  cpu: number;
  threads: ThreadCpu | undefined;
  gc: GcCount;
  faults: number;
}

/** What the peer measured of a phase: wall time and its own CPU time, in seconds, and its collections. */
interface Timed extends Cpu {
  seconds: number;
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
function pageCacheCost(path: string, content: Buffer): { seconds: number; cpu: number } {
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

/** CPU seconds to SHA-256 `content` in pieces of a chunk's average size. */
function hashCost(content: Buffer): number {
  const cpu = process.cpuUsage();
  const PIECE = 32 * 1024;
  for (let at = 0; at < content.length; at += PIECE) {
    createHash("sha256")
      .update(content.subarray(at, at + PIECE))
      .digest();
  }
  return seconds(process.cpuUsage(cpu));
}

/**
 * With `GDO_BENCH_WINDOWS=1`: the phase that just ended, `seconds` long, as
 * START,END in CLOCK_MONOTONIC seconds (Node's hrtime on Linux; perf's
 * `-k CLOCK_MONOTONIC`). The phase's own clock ran in the peer, so the span
 * is late by one IPC reply, well under a millisecond.
 */
function logWindow(phase: string, seconds: number): void {
  if (!printWindows) return;
  const end = Number(process.hrtime.bigint()) / 1e9;
  log(`window    ${phase}: ${(end - seconds).toFixed(6)},${end.toFixed(6)}`);
}

/** The second node's process, ready for requests (one at a time). */
async function startPeer(): Promise<{ ask(request: PeerRequest): Promise<unknown> }> {
  const child = fork(join(import.meta.dirname, "_sync-peer.ts"), {
    execArgv: [
      ...nodeFlags(),
      ...(process.env.GDO_BENCH_PEER_FLAGS?.split(" ").filter(Boolean) ?? []),
    ],
    env: { ...process.env, ...NODE_ENV },
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
