/**
 * The running node: composes the ledger replica, the membership gate, libp2p
 * (TCP, Noise, Yamux, identify, ping, optional mDNS), the two sync protocols,
 * the local HTTP API with the site, and the timers that keep it converging.
 *
 *   startNode ──► bootstrap (key, ledger or join) ──► Replica
 *            ├──► MembershipGate ──► libp2p connection gater
 *            ├──► LedgerSync  /gdo/ledger/1      ChunkSync  /gdo/chunks/1
 *            ├──► HttpApi 127.0.0.1 (+ SitePlugin)
 *            └──► timers: head watcher (1 s), bootstrap redial, periodic resync
 *
 * Nothing here spins: every loop is a timer or an event, and `stop()` ends
 * them all (SIGINT/SIGTERM in `gdo node`). A restart picks up where it was:
 * refs and objects are on disk, missing chunks are recomputed.
 */
import { rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { identify } from "@libp2p/identify";
import type { PeerId } from "@libp2p/interface";
import { mdns } from "@libp2p/mdns";
import { ping } from "@libp2p/ping";
import { tcp } from "@libp2p/tcp";
import { multiaddr } from "@multiformats/multiaddr";
import { createLibp2p, type Libp2p } from "libp2p";
import { writeFileAtomic } from "../ledger/atomic-file.ts";
import { openBlobStore } from "../ledger/blobs/blob-store.ts";
import { BlobNotFoundError } from "../ledger/blobs/errors.ts";
import { blobPointerPath, checkPointerPath } from "../ledger/blobs/manifest.ts";
import type { ChangeValidator } from "../ledger/validator.ts";
import { bootstrapNode } from "./bootstrap.ts";
import { ChunkSync } from "./chunk-sync.ts";
import { configPath, loadConfig, type NodeConfig } from "./config.ts";
import { lockDataDir } from "./data-lock.ts";
import { ListenError } from "./errors.ts";
import { MembershipGate } from "./gater.ts";
import { apiToken, HttpApi } from "./http-api.ts";
import { libp2pKey, parsePeerId } from "./identity.ts";
import { LedgerSync } from "./ledger-sync.ts";
import { startMallocTrim } from "./malloc-trim.ts";
import { startMemoryReducerNudge } from "./memory-reducer.ts";
import type { ServeHooks, SyncNetwork } from "./network.ts";
import { noiseCrypto } from "./noise-crypto.ts";
import { PeerTable } from "./peers.ts";
import { Replica } from "./replica.ts";
import { type SitePlugin, staticSite } from "./site-server.ts";
import { formatStatusLine, type NodeStatus } from "./status.ts";
import { explainMissing } from "./wanted-blobs.ts";

export interface StartNodeInput {
  dataDir: string;
  keyPath: string;
  ledgerPath: string;
  /** Working folder: the site folder in config is relative to it. */
  cwd: string;
  founder: string;
  organisation: string;
  genesisFiles: () => Promise<import("../ledger/tree-builder.ts").FileEdit[]>;
  log: (line: string) => void;
  /** Overrides `<dataDir>/config.json` (tests). */
  config?: NodeConfig;
  validate?: ChangeValidator;
  /** Replaces the static `dist/` site. */
  site?: SitePlugin;
  /** Test-only misbehaviour; `gdo node` never sets it. */
  hooks?: ServeHooks;
}

export interface RunningNode {
  /** The libp2p node itself: for benchmarks and tests that need a raw stream beside the sync. */
  libp2p: Libp2p;
  peerId: string;
  httpPort: number;
  addresses: string[];
  status(): Promise<NodeStatus>;
  /** Sync counters only (cheap, unlike `status`): for a caller that polls them often. */
  syncProgress(): NodeStatus["sync"];
  stop(): Promise<void>;
}

/** Where a running node says how to reach it (removed on clean stop). */
export function runtimePath(dataDir: string): string {
  return join(dataDir, "node.json");
}

export function tokenPath(dataDir: string): string {
  return join(dataDir, "api-token");
}

export async function startNode(input: StartNodeInput): Promise<RunningNode> {
  const unlock = await lockDataDir(input.dataDir);
  try {
    return await startOnLockedDir(input, unlock);
  } catch (error) {
    await unlock();
    throw error;
  }
}

async function startOnLockedDir(
  input: StartNodeInput,
  unlock: () => Promise<void>,
): Promise<RunningNode> {
  const { log } = input;
  const config = input.config ?? (await loadConfig(input.dataDir));
  const started = Date.now();
  let opened: Replica | undefined;
  const boot = await bootstrapNode({
    keyPath: input.keyPath,
    ledgerPath: input.ledgerPath,
    genesisFiles: input.genesisFiles,
    founder: input.founder,
    organisation: input.organisation,
    log,
    join: config.bootstrap.length > 0,
    validate: input.validate,
    // The history is verified once, by the replica's verifier, which keeps
    // what it learnt for the syncs to come.
    verify: async ({ ledger, key }, oid) => {
      opened ??= await Replica.open({ gitdir: input.ledgerPath, key, rules: ledger.rules });
      return opened.verify(oid);
    },
  });
  const rules = boot.ledger?.rules ?? (input.validate ? { validate: input.validate } : {});
  const replica =
    opened ?? (await Replica.open({ gitdir: input.ledgerPath, key: boot.key, rules }));
  const peers = new PeerTable();
  const bootstrapPeers = config.bootstrap.map((a) => multiaddr(a));
  const gate = new MembershipGate({
    bootstrapPeers: bootstrapPeers.map(
      (a) => a.getComponents().find((c) => c.name === "p2p")!.value!,
    ),
    peers,
    log,
  });
  gate.update(await replica.charter(), []);
  const blobs = await openBlobStore({ dataDir: input.dataDir });

  const limits = config.limits;
  const libp2p: Libp2p = await createLibp2p({
    // Started below, once every listener is attached: mDNS finds a peer on
    // the LAN within milliseconds of starting, and libp2p announces a peer
    // as discovered only the first time it sees it.
    start: false,
    privateKey: await libp2pKey(boot.key),
    addresses: { listen: config.listen },
    transports: [
      tcp({
        inboundSocketInactivityTimeout: 5 * 60_000,
        outboundSocketInactivityTimeout: 5 * 60_000,
        maxConnections: limits.maxConnections,
      }),
    ],
    connectionEncrypters: [noise({ crypto: noiseCrypto })],
    streamMuxers: [yamux({ maxInboundStreams: limits.maxInboundStreams * 4 + 8 })],
    connectionGater: gate.connectionGater(),
    connectionManager: {
      maxConnections: limits.maxConnections,
      maxIncomingPendingConnections: 16,
      inboundConnectionThreshold: 10,
      dialTimeout: 10_000,
      inboundUpgradeTimeout: 10_000,
      maxParallelDials: 16,
    },
    peerDiscovery: config.mdns ? [mdns({ interval: 20_000 })] : [],
    services: { identify: identify(), ping: ping() },
  });

  const net: SyncNetwork = {
    handle: (protocol, handler, options) =>
      libp2p.handle(protocol, (stream, connection) => handler(stream, connection.remotePeer), {
        ...options,
      }),
    unhandle: (protocol) => libp2p.unhandle(protocol),
    openStream: async (peer, protocol, { signal }) => {
      const connection = await libp2p.dial(peer, { signal });
      return connection.newStream(protocol, { signal });
    },
    connectedPeers: () => libp2p.getPeers().filter((p) => gate.decide(p, "outbound").admit),
  };

  let site = input.site;
  if (!site) site = staticSite({ dir: resolve(input.cwd, config.site) });

  let lastHeads = JSON.stringify(await replica.localHeads());
  let lastMain = await replica.main();
  const onHeadsMaybeMoved = async () => {
    const heads = JSON.stringify(await replica.localHeads());
    if (heads === lastHeads) return;
    lastHeads = heads;
    const main = await replica.main();
    if (main !== lastMain) {
      lastMain = main;
      const charter = await replica.charter();
      for (const peer of gate.update(charter, libp2p.getPeers())) {
        log(
          `gate      ${gate.nameOf(peer) ?? peer.toString()} is no longer admitted; disconnecting`,
        );
        await libp2p.hangUp(peer).catch(() => {});
      }
      if (main)
        await Promise.resolve(site?.onMainMoved?.({ head: main, gitdir: input.ledgerPath })).catch(
          (error) => log(`site      ${String((error as Error).message)}`),
        );
      chunks.requestRun();
    }
    await ledgerSync.announce();
  };
  let moving = Promise.resolve();
  const headsMoved = () => {
    moving = moving.then(onHeadsMaybeMoved).catch((error) => log(`node      ${error.message}`));
  };

  const ledgerSync = new LedgerSync(
    {
      replica,
      gate,
      peers,
      limits,
      autoMerge: config.autoMerge,
      mergeGraceMs: Math.max(5_000, Math.min(config.syncIntervalMs, 60_000)),
      genesis: config.genesis,
      hooks: input.hooks,
      log,
      onMoved: headsMoved,
    },
    net,
  );
  const chunks = new ChunkSync(
    { replica, blobs, gate, peers, limits, replicate: config.replicate, hooks: input.hooks, log },
    net,
  );

  libp2p.addEventListener("peer:connect", (event) => {
    const peer = event.detail;
    const record = peers.get(peer.toString());
    record.connected = true;
    record.name = gate.nameOf(peer) ?? record.name;
    ledgerSync.requestSync(peer);
    chunks.requestRun();
  });
  libp2p.addEventListener("peer:disconnect", (event) => {
    peers.get(event.detail.toString()).connected = false;
  });
  // Peers found on the LAN: dialed when found, and again with the bootstrap
  // peers' backoff while not connected (libp2p announces each only once).
  const discovered = new Map<string, PeerId>();
  libp2p.addEventListener("peer:discovery", (event) => {
    const peer = event.detail.id;
    discovered.set(peer.toString(), peer);
    if (libp2p.getConnections(peer).length > 0 || !gate.decide(peer, "outbound").admit) return;
    log(`discovery found ${gate.nameOf(peer) ?? peer.toString()}; dialing`);
    libp2p.dial(peer).catch((error: Error) => {
      peers.get(peer.toString()).lastError = error.message;
    });
  });

  try {
    await libp2p.start();
  } catch (error) {
    await Promise.resolve(libp2p.stop()).catch(() => {});
    await blobs.close();
    await replica.close();
    if ((error as Error).name !== "UnsupportedListenAddressesError") throw error;
    // libp2p's message is a paragraph per address; the first reason is the one to act on.
    const reason = /(\/\S+): Error: ([^\n]+)/.exec((error as Error).message);
    throw new ListenError(
      configPath(input.dataDir),
      reason ? `${reason[1]}: ${reason[2]}` : (error as Error).message,
    );
  }
  await ledgerSync.start();
  await chunks.start();
  // What a restart left unfetched is known at once (and the first pass's walk
  // of main's tree falls in the start-up's burst, which the memory reducer
  // gives back, rather than in an idle node 30 s later).
  chunks.requestRun();

  const token = await apiToken(tokenPath(input.dataDir));
  const syncProgress = (): NodeStatus["sync"] => ({
    ledger: { ...ledgerSync.totals },
    chunks: chunks.progress(),
  });
  const status = async (): Promise<NodeStatus> => {
    const main = await replica.main();
    const block = main ? await replica.verify(main) : undefined;
    const me = block?.charter.memberByKey(boot.key.publicKey);
    const memory = process.memoryUsage();
    return {
      node: {
        peerId: libp2p.peerId.toString(),
        member: me?.name,
        addresses: libp2p.getMultiaddrs().map((a) => a.toString()),
        http: httpPort,
        uptimeMs: Date.now() - started,
        pid: process.pid,
        memory: { rss: memory.rss, heapUsed: memory.heapUsed },
      },
      ledger: block
        ? {
            id: block.charter.id,
            name: block.charter.name,
            main: block.oid,
            generation: block.generation,
            heads: await replica.localHeads(),
          }
        : undefined,
      peers: peers.all().map((p) => ({ ...p })),
      divergence: await replica.divergence(),
      sync: syncProgress(),
      gate: { refused: Object.fromEntries(gate.refused) },
    };
  };
  const http = new HttpApi({
    token,
    site,
    api: {
      status,
      peers: async () => peers.all(),
      heads: async () => ({
        local: await replica.localHeads(),
        remote: await replica.remoteHeads(),
      }),
      write: async ({ message, edits, branch }) => {
        if (!replica.ledger) throw new Error("no ledger yet");
        const oid = await replica.exclusive(() =>
          replica.ledger!.commit({ key: boot.key, edits, message, ref: branch ?? "main" }),
        );
        headsMoved();
        return oid;
      },
      putBlob: async ({ source, path, message }) => {
        if (!replica.ledger) throw new Error("no ledger yet");
        // Checked before the upload is stored: a pointer only counts as one
        // (fetched by peers, kept by gc) under a name ending in .blob.
        if (path !== undefined) checkPointerPath(path);
        const put = await blobs.put({ source });
        const where = path ?? blobPointerPath(put.id);
        const block = await replica.exclusive(() =>
          replica.ledger!.commit({
            key: boot.key,
            edits: [{ path: where, content: put.bytes }],
            message: message ?? `Add blob ${where}`,
          }),
        );
        headsMoved();
        return { id: put.id, path: where, block };
      },
      readBlob: (id) => explained(blobs.get({ id }), id),
    },
  });
  const httpPort = await http.start({ port: config.httpPort });

  /** A blob's pieces; if it is not here, the error says why (see `explainMissing`). */
  async function* explained(pieces: AsyncIterable<Uint8Array>, id: string) {
    try {
      yield* pieces;
    } catch (error) {
      const main = await replica.mainBlock();
      if (!(error instanceof BlobNotFoundError) || !main) throw error;
      throw await explainMissing(error, {
        id,
        reader: replica.verifier.reader,
        tree: main.tree,
        replicate: config.replicate,
        member: main.charter.memberByKey(boot.key.publicKey)?.name ?? "",
      });
    }
  }

  // Timers: the head watcher notices writes by other processes (gdo write);
  // bootstrap peers are redialed with backoff; every peer is resynced now and then.
  const timers: NodeJS.Timeout[] = [];
  timers.push(setInterval(headsMoved, 1_000));
  let redialDelay = 1_000;
  let redialAt = 0;
  timers.push(
    setInterval(() => {
      if (Date.now() < redialAt) return;
      let missing = false;
      for (const address of bootstrapPeers) {
        const id = parsePeerId(address.getComponents().find((c) => c.name === "p2p")!.value!);
        if (libp2p.getConnections(id).length > 0) continue;
        missing = true;
        libp2p.dial(address, { signal: AbortSignal.timeout(10_000) }).catch(() => {});
      }
      for (const peer of discovered.values()) {
        if (libp2p.getConnections(peer).length > 0 || !gate.decide(peer, "outbound").admit)
          continue;
        missing = true;
        libp2p.dial(peer, { signal: AbortSignal.timeout(10_000) }).catch(() => {});
      }
      redialDelay = missing ? Math.min(redialDelay * 2, 30_000) : 1_000;
      redialAt = Date.now() + redialDelay;
    }, 500),
  );
  timers.push(
    setInterval(() => {
      for (const peer of net.connectedPeers()) ledgerSync.requestSync(peer);
      chunks.requestRun();
    }, config.syncIntervalMs),
  );
  let lastLine = "";
  let lastPrinted = 0;
  timers.push(
    setInterval(async () => {
      const line = formatStatusLine(await status().catch(() => undefined));
      if (line !== lastLine || Date.now() - lastPrinted > 10 * 60_000) {
        lastLine = line;
        lastPrinted = Date.now();
        log(line);
      }
    }, 2_000),
  );
  for (const t of timers) t.unref();
  // The memory a start-up or a sync grew is given back once the node idles:
  // V8's heap by its memory reducer, glibc's by malloc_trim.
  const stopNudge = startMemoryReducerNudge();
  const stopTrim = await startMallocTrim({ log });

  const addresses = libp2p.getMultiaddrs().map((a) => a.toString());
  await writeFileAtomic({
    path: runtimePath(input.dataDir),
    data: `${JSON.stringify({ pid: process.pid, peerId: libp2p.peerId.toString(), http: `http://127.0.0.1:${httpPort}`, addresses }, null, 2)}\n`,
    mode: 0o644,
  });
  log(`p2p       ${libp2p.peerId.toString()} listening on ${addresses.join(", ") || "(nothing)"}`);
  log(
    `http      http://127.0.0.1:${httpPort}/ (API under /api/, write token in ${tokenPath(input.dataDir)})`,
  );
  log(`discovery mdns ${config.mdns ? "on" : "off"}, ${config.bootstrap.length} bootstrap peer(s)`);

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      for (const t of timers) clearInterval(t);
      stopNudge();
      stopTrim();
      await ledgerSync.stop();
      await chunks.stop();
      await http.stop();
      await libp2p.stop();
      await moving.catch(() => {});
      await site?.close?.();
      await blobs.close();
      await replica.close();
      await rm(runtimePath(input.dataDir), { force: true });
      await unlock();
      log("stopped");
    })();
    return stopping;
  };
  return {
    libp2p,
    peerId: libp2p.peerId.toString(),
    httpPort,
    addresses,
    status,
    syncProgress,
    stop,
  };
}

export type { PeerId };
