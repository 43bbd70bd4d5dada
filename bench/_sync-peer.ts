/**
 * A node of `bench/sync.ts` in its own process, as on its own machine:
 * started, asked for its status and CPU time, asked to serve or read a raw
 * stream (and store it), and to time a blob fetch, over IPC.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { Session } from "node:inspector/promises";
import { multiaddr } from "@multiformats/multiaddr";
import { BufferPool } from "../node/chunk-group.ts";
import { DEFAULT_CONFIG, type NodeConfig } from "../node/config.ts";
import { type RunningNode, startNode } from "../node/daemon.ts";
import { benchContent } from "./_content.ts";
import { type GcCount, gcCounts, gcDelta } from "./_gc.ts";
import { type ThreadCpu, threadCpu, threadCpuSince } from "./_thread-cpu.ts";
import { until } from "./_until.ts";

export type PeerRequest =
  | { kind: "start"; dataDir: string; bootstrap?: string; cwd: string }
  | { kind: "status" }
  | { kind: "cpu" }
  | { kind: "serveRaw"; protocol: string; seed: string; size: number }
  | { kind: "raw"; address: string; protocol: string; storeIn?: string }
  | { kind: "fetch"; after: string; bytes: number }
  | { kind: "profile"; start: true }
  | { kind: "profile"; start: false; path: string }
  | { kind: "stop" };

// Counted from start-up, so every phase's collections are seen.
gcCounts();

let node: RunningNode | undefined;
let dataDir = "";
let profiler: Session | undefined;
const reply = (value: unknown) => process.send!(value);

process.on("message", async (request: PeerRequest) => {
  try {
    if (request.kind === "start") {
      dataDir = request.dataDir;
      const config: NodeConfig = {
        ...structuredClone(DEFAULT_CONFIG),
        listen: ["/ip4/127.0.0.1/tcp/0"],
        mdns: false,
        httpPort: 0,
        bootstrap: request.bootstrap ? [request.bootstrap] : [],
      };
      node = await startNode({
        dataDir: request.dataDir,
        keyPath: `${request.dataDir}/key`,
        ledgerPath: `${request.dataDir}/ledger.git`,
        cwd: request.cwd,
        founder: "x",
        organisation: "x",
        genesisFiles: async () => [],
        log: () => {},
        config,
      });
      reply({ addresses: node.addresses, httpPort: node.httpPort });
    } else if (request.kind === "status") {
      const status = await node!.status();
      reply({ chunks: status.sync.chunks, rss: status.node.memory.rss });
    } else if (request.kind === "cpu") {
      const used = process.cpuUsage();
      reply({
        cpu: (used.user + used.system) / 1e6,
        threads: threadCpu(),
        gc: gcCounts(),
        faults: process.resourceUsage().minorPageFault,
      });
    } else if (request.kind === "serveRaw") {
      // The blob's own bytes, from memory, in 256 KiB sends.
      const content = benchContent(request.seed, request.size);
      const SEND = 256 * 1024;
      await node!.libp2p.handle(request.protocol, async (stream) => {
        for (let sent = 0; sent < content.length; sent += SEND) {
          if (!stream.send(content.subarray(sent, sent + SEND))) await stream.onDrain();
        }
        await stream.close();
      });
      reply({ serving: true });
    } else if (request.kind === "raw") {
      const start = phaseStart();
      const stream = await node!.libp2p.dialProtocol(multiaddr(request.address), request.protocol);
      const store = request.storeIn ? await storedAsReceived(request.storeIn) : undefined;
      let bytes = 0;
      for await (const piece of stream) {
        bytes += piece.byteLength;
        await store?.add(piece);
      }
      await store?.end();
      reply({ bytes, ...since(start) });
    } else if (request.kind === "fetch") {
      // From main leaving `after` (the block naming the blob arrived) until
      // `bytes` more chunk bytes are stored and none is missing.
      const fetched = () => node!.syncProgress().chunks;
      const before = fetched().fetchedBytes;
      const mainRef = `${dataDir}/ledger.git/refs/heads/main`;
      // Polled every millisecond, in-process: the clock starts when main moves.
      const fast = { timeoutMs: 600_000, everyMs: 1, what: "bench peer" };
      await until(() => readFileSync(mainRef, "utf8").trim() !== request.after, fast);
      const start = phaseStart();
      // Every 5 ms while the chunks move: polling every millisecond cost the
      // receiving node 70 ms of CPU per 256 MiB, on cores the transfer needs;
      // 5 ms costs a fifth of that and adds at most 5 ms to the time.
      await until(
        () => {
          const c = fetched();
          return c.fetchedBytes - before >= request.bytes && c.missingChunks === 0;
        },
        { ...fast, everyMs: 5 },
      );
      // Chunks whose bytes did not match their ids: none, from an honest
      // peer; and the bytes stored, the blob's own once each (none twice).
      const c = fetched();
      reply({
        ...since(start),
        refused: c.refusedChunks,
        fetchedBytes: c.fetchedBytes - before,
      });
    } else if (request.kind === "profile") {
      if (request.start) {
        profiler = new Session();
        profiler.connect();
        await profiler.post("Profiler.enable");
        await profiler.post("Profiler.setSamplingInterval", { interval: 500 });
        await profiler.post("Profiler.start");
      } else {
        const { profile } = await profiler!.post("Profiler.stop");
        writeFileSync(request.path, JSON.stringify(profile));
      }
      reply({ profiling: request.start });
    } else {
      await node?.stop();
      reply({ stopped: true });
      process.exit(0);
    }
  } catch (error) {
    reply({ error: (error as Error).stack });
  }
});
reply({ ready: true });

/**
 * The raw stream stored as the blob path stores chunks: gathered into 4 MiB
 * groups, each written and fsynced while the next is received (at most two
 * being written).
 */
async function storedAsReceived(path: string) {
  const GROUP = 4 * 1024 * 1024;
  const handle = await open(path, "w");
  // The group being filled and the two being written.
  const buffers = new BufferPool({ size: GROUP, keep: 3 });
  const writing = new Set<Promise<void>>();
  let group = buffers.take(GROUP);
  let used = 0;
  let offset = 0;
  const flush = async () => {
    if (used === 0) return;
    const buffer = group;
    const length = used;
    const at = offset;
    offset += length;
    group = buffers.take(GROUP);
    used = 0;
    const written: Promise<void> = (async () => {
      await handle.write(buffer, 0, length, at);
      await handle.datasync();
    })().finally(() => {
      buffers.give(buffer);
      writing.delete(written);
    });
    writing.add(written);
    if (writing.size >= 2) await Promise.race(writing);
  };
  return {
    async add(piece: Uint8Array | Iterable<Uint8Array>) {
      for (const part of piece instanceof Uint8Array ? [piece] : piece) {
        for (let at = 0; at < part.length; ) {
          const n = Math.min(part.length - at, GROUP - used);
          group.set(part.subarray(at, at + n), used);
          used += n;
          at += n;
          if (used === GROUP) await flush();
        }
      }
    },
    async end() {
      await flush();
      await Promise.all(writing);
      await handle.close();
    },
  };
}

/** What a phase's figures are measured from (`since`). */
function phaseStart() {
  return {
    t: performance.now(),
    cpu: process.cpuUsage(),
    threads: threadCpu(),
    gc: gcCounts(),
    faults: process.resourceUsage().minorPageFault,
  };
}

/** Wall and CPU seconds (all threads, and by kind of thread), collections and minor page faults since `start`. */
function since(start: ReturnType<typeof phaseStart>): {
  seconds: number;
  cpu: number;
  threads: ThreadCpu | undefined;
  gc: GcCount;
  faults: number;
} {
  const used = process.cpuUsage(start.cpu);
  return {
    seconds: (performance.now() - start.t) / 1000,
    cpu: (used.user + used.system) / 1e6,
    threads: threadCpuSince(start.threads),
    gc: gcDelta(start.gc, gcCounts()),
    faults: process.resourceUsage().minorPageFault - start.faults,
  };
}
