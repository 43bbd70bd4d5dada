/**
 * The node's status as the HTTP API returns it, and its one-line and
 * multi-line renderings (the daemon's log, `gdo node status`).
 */
import type { ChunkProgress } from "./chunk-sync.ts";
import type { PeerRecord } from "./peers.ts";
import type { Divergence } from "./replica.ts";

export interface NodeStatus {
  node: {
    peerId: string;
    member: string | undefined;
    addresses: string[];
    http: number;
    uptimeMs: number;
    pid: number;
    memory: { rss: number; heapUsed: number };
  };
  ledger:
    | {
        id: string;
        name: string;
        main: string;
        generation: number;
        heads: Record<string, string>;
      }
    | undefined;
  peers: PeerRecord[];
  divergence: Divergence[];
  sync: {
    ledger: { blocksIn: number; objectsIn: number; bytesIn: number; bytesOut: number };
    chunks: ChunkProgress;
  };
  gate: { refused: Record<string, number> };
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GiB`;
}

/** `peers 2/3 | main 1a2b3c4d5e6f (gen 12) | behind 0 ahead 1 | in 12.0 KiB out 3.0 KiB | chunks 0 missing` */
export function formatStatusLine(status: NodeStatus | undefined): string {
  if (!status) return "status    unavailable";
  const connected = status.peers.filter((p) => p.connected).length;
  const main = status.ledger
    ? `main ${status.ledger.main.slice(0, 12)} (gen ${status.ledger.generation})`
    : "no ledger yet (joining)";
  const onMain = status.divergence.filter((d) => d.branch === "main");
  const behind = Math.max(0, ...onMain.map((d) => d.behind));
  const ahead = Math.max(0, ...onMain.map((d) => d.ahead));
  const diverged = onMain.filter((d) => d.relation === "diverged").length;
  const s = status.sync;
  const bytesIn = s.ledger.bytesIn + s.chunks.fetchedBytes;
  const bytesOut = s.ledger.bytesOut + s.chunks.servedBytes;
  return [
    `status    peers ${connected}/${status.peers.length}`,
    main,
    `behind ${behind} ahead ${ahead}${diverged ? ` diverged ${diverged}` : ""}`,
    `in ${formatBytes(bytesIn)} out ${formatBytes(bytesOut)}`,
    `chunks ${s.chunks.missingChunks} missing`,
  ].join(" | ");
}

/** The multi-line view of `gdo node status`. */
export function formatStatus(status: NodeStatus): string {
  const lines: string[] = [];
  const n = status.node;
  lines.push(`node      ${n.member ?? "(not a member)"} ${n.peerId}`);
  lines.push(
    `          pid ${n.pid}, up ${Math.round(n.uptimeMs / 1000)} s, rss ${formatBytes(n.memory.rss)}, http 127.0.0.1:${n.http}`,
  );
  for (const a of n.addresses) lines.push(`          listening ${a}`);
  if (status.ledger) {
    const l = status.ledger;
    lines.push(`ledger    '${l.name}' (${l.id})`);
    lines.push(`          main ${l.main} (generation ${l.generation})`);
    for (const [b, oid] of Object.entries(l.heads))
      if (b !== "main") lines.push(`          ${b} ${oid}`);
  } else lines.push("ledger    none yet: joining from the bootstrap peers");
  lines.push(`peers     ${status.peers.filter((p) => p.connected).length} connected`);
  for (const p of status.peers) {
    lines.push(
      `          ${(p.name ?? "?").padEnd(16)} ${p.connected ? "connected   " : "disconnected"} score ${String(p.score).padStart(4)}  in ${formatBytes(p.bytesIn + p.chunkBytesIn)} out ${formatBytes(p.bytesOut + p.chunkBytesOut)}  blocks ${p.blocksIn} chunks ${p.chunksIn}${p.refusedHeads + p.refusedChunks ? ` refused ${p.refusedHeads} head(s) ${p.refusedChunks} chunk(s)` : ""}`,
    );
  }
  for (const d of status.divergence) {
    const what =
      d.relation === "same"
        ? "in sync"
        : d.relation === "ahead"
          ? `${d.behind} new block(s) to fast-forward`
          : d.relation === "behind"
            ? `${d.ahead} block(s) ahead of it`
            : `diverged: ${d.ahead} ours, ${d.behind} theirs${d.conflicts.length ? `; conflicts on ${d.conflicts.join(", ")}` : ""}`;
    lines.push(`remote    ${d.peer}/${d.branch} ${d.oid.slice(0, 12)}: ${what}`);
  }
  const c = status.sync.chunks;
  lines.push(
    `blobs     ${c.wantedBlobs} wanted, ${c.wantedChunks} chunk(s), ${c.missingChunks} missing; fetched ${c.fetchedChunks} (${formatBytes(c.fetchedBytes)}), served ${c.servedChunks} (${formatBytes(c.servedBytes)}), refused ${c.refusedChunks}`,
  );
  const l = status.sync.ledger;
  lines.push(
    `sync      ${l.blocksIn} block(s) in, ${formatBytes(l.bytesIn)} in, ${formatBytes(l.bytesOut)} out`,
  );
  const refused = Object.entries(status.gate.refused);
  if (refused.length)
    lines.push(`gate      refused: ${refused.map(([r, k]) => `${k}× ${r}`).join(", ")}`);
  return `${lines.join("\n")}\n`;
}
