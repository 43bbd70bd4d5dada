/**
 * The node's configuration: `<dataDir>/config.json`, optional. Every field is
 * optional and validated; an error names the file and the field. RFC 7 lists
 * the fields; `DEFAULT_CONFIG` is what a node without the file runs with.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { multiaddr } from "@multiformats/multiaddr";
import { ConfigError } from "./errors.ts";
import { memberKeyOf, parsePeerId } from "./identity.ts";

export interface Limits {
  /** Open connections at most (inbound and outbound). */
  maxConnections: number;
  /** Inbound streams per protocol per connection. */
  maxInboundStreams: number;
  /** Largest frame accepted on /gdo/ledger/1 (a batch of objects, or a request). */
  maxLedgerFrame: number;
  /** Largest request frame accepted on /gdo/chunks/1 (chunk data frames are bounded by the chunk size). */
  maxChunkRequest: number;
  /** A stream that moves no data for this long is aborted. */
  streamIdleMs: number;
  /** Objects held in quarantine for one fetch at most (bytes). */
  maxQuarantineBytes: number;
  /** Commits per fetch batch (each batch is verified and stored on its own). */
  fetchBatchCommits: number;
  /** Chunk requests in flight per peer. */
  chunkRequestsPerPeer: number;
  /**
   * The slowest a chunk request may be answered (bytes/s, `streamIdleMs` at
   * least): a peer that trickles is left for others for that request.
   */
  minChunkRate: number;
}

export interface NodeConfig {
  /** libp2p listen multiaddrs. */
  listen: string[];
  /** Peers to dial at start and to redial, with their /p2p/<peer id>. */
  bootstrap: string[];
  /** Discover peers on the local network by multicast DNS. */
  mdns: boolean;
  /** Local HTTP API and site: 127.0.0.1:<httpPort>; 0 picks a free port. */
  httpPort: number;
  /** Glob patterns over ledger paths of `*.blob` pointer files whose chunks this node keeps. */
  replicate: string[];
  /** Merge diverged heads automatically when the merge is clean. */
  autoMerge: boolean;
  /** Re-sync with every connected peer at least this often (announcements make it sooner). */
  syncIntervalMs: number;
  /** The genesis block of the ledger to join, when the node starts without a ledger. */
  genesis: string | undefined;
  /** Folder of the built site to serve at / (relative to the working folder). */
  site: string;
  limits: Limits;
}

export const DEFAULT_LIMITS: Limits = {
  maxConnections: 64,
  maxInboundStreams: 8,
  maxLedgerFrame: 4 * 1024 * 1024,
  maxChunkRequest: 64 * 1024,
  streamIdleMs: 30_000,
  maxQuarantineBytes: 256 * 1024 * 1024,
  fetchBatchCommits: 2_000,
  chunkRequestsPerPeer: 4,
  minChunkRate: 64 * 1024,
};

export const DEFAULT_CONFIG: NodeConfig = {
  listen: ["/ip4/0.0.0.0/tcp/4001"],
  bootstrap: [],
  mdns: true,
  httpPort: 7707,
  replicate: ["**"],
  autoMerge: true,
  syncIntervalMs: 30_000,
  genesis: undefined,
  site: "dist",
  limits: DEFAULT_LIMITS,
};

export function configPath(dataDir: string): string {
  return join(dataDir, "config.json");
}

/** Reads and validates `<dataDir>/config.json`; a missing file gives the defaults. */
export async function loadConfig(dataDir: string): Promise<NodeConfig> {
  const file = configPath(dataDir);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return structuredClone(DEFAULT_CONFIG);
    throw new ConfigError(file, undefined, `cannot read: ${(error as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(file, undefined, `not valid JSON: ${(error as Error).message}`);
  }
  return parseConfig(value, file);
}

/** Validates a parsed config object (pure; `file` only names it in errors). */
export function parseConfig(value: unknown, file = "config.json"): NodeConfig {
  if (value === null || typeof value !== "object" || Array.isArray(value))
    throw new ConfigError(file, undefined, "must be a JSON object");
  const v = value as Record<string, unknown>;
  const fields = Object.keys(DEFAULT_CONFIG);
  for (const key of Object.keys(v)) {
    if (!fields.includes(key))
      throw new ConfigError(file, key, `unknown field (allowed: ${fields.join(", ")})`);
  }
  const config = structuredClone(DEFAULT_CONFIG);
  if (v.listen !== undefined) config.listen = multiaddrs(file, "listen", v.listen, false);
  if (v.bootstrap !== undefined)
    config.bootstrap = multiaddrs(file, "bootstrap", v.bootstrap, true);
  if (v.mdns !== undefined) config.mdns = bool(file, "mdns", v.mdns);
  if (v.autoMerge !== undefined) config.autoMerge = bool(file, "autoMerge", v.autoMerge);
  if (v.httpPort !== undefined) config.httpPort = int(file, "httpPort", v.httpPort, 0, 65535);
  if (v.syncIntervalMs !== undefined)
    config.syncIntervalMs = int(file, "syncIntervalMs", v.syncIntervalMs, 1000, 86_400_000);
  if (v.replicate !== undefined) config.replicate = patterns(file, "replicate", v.replicate);
  if (v.genesis !== undefined) {
    if (typeof v.genesis !== "string" || !/^[0-9a-f]{40}$/.test(v.genesis))
      throw new ConfigError(file, "genesis", "must be a 40-hex block id");
    config.genesis = v.genesis;
  }
  if (v.site !== undefined) {
    if (typeof v.site !== "string" || v.site.length === 0)
      throw new ConfigError(file, "site", "must be a folder path");
    config.site = v.site;
  }
  if (v.limits !== undefined) config.limits = limits(file, v.limits);
  return config;
}

function bool(file: string, field: string, value: unknown): boolean {
  if (typeof value !== "boolean") throw new ConfigError(file, field, "must be true or false");
  return value;
}

function int(file: string, field: string, value: unknown, min: number, max: number): number {
  if (!Number.isSafeInteger(value) || (value as number) < min || (value as number) > max)
    throw new ConfigError(file, field, `must be a whole number from ${min} to ${max}`);
  return value as number;
}

function multiaddrs(file: string, field: string, value: unknown, needPeer: boolean): string[] {
  if (!Array.isArray(value)) throw new ConfigError(file, field, "must be a list of multiaddrs");
  return value.map((item, i) => {
    const where = `${field}[${i}]`;
    if (typeof item !== "string") throw new ConfigError(file, where, "must be a string");
    let parsed: ReturnType<typeof multiaddr>;
    try {
      parsed = multiaddr(item);
    } catch (error) {
      throw new ConfigError(file, where, `not a multiaddr: ${(error as Error).message}`);
    }
    if (needPeer) {
      const peer = parsed.getComponents().find((c) => c.name === "p2p")?.value;
      if (!peer)
        throw new ConfigError(file, where, "must end with /p2p/<peer id> (the peer's member key)");
      // Only an ed25519 peer id can be a member's key (and a bad one would
      // fail later, inside the node's redial timer).
      let key: ReturnType<typeof memberKeyOf>;
      try {
        key = memberKeyOf(parsePeerId(peer));
      } catch {
        throw new ConfigError(
          file,
          where,
          `'${peer}' is not a peer id (a member's starts 12D3KooW, as 'gdo node status' shows it)`,
        );
      }
      if (!key)
        throw new ConfigError(file, where, `'${peer}' is not an ed25519 peer id (a member key)`);
    }
    return item;
  });
}

function patterns(file: string, field: string, value: unknown): string[] {
  if (!Array.isArray(value)) throw new ConfigError(file, field, "must be a list of path globs");
  return value.map((item, i) => {
    if (typeof item !== "string" || item.length === 0 || item.startsWith("/"))
      throw new ConfigError(file, `${field}[${i}]`, "must be a relative ledger path glob");
    return item;
  });
}

function limits(file: string, value: unknown): Limits {
  if (value === null || typeof value !== "object" || Array.isArray(value))
    throw new ConfigError(file, "limits", "must be an object");
  const v = value as Record<string, unknown>;
  const out = { ...DEFAULT_LIMITS };
  const bounds: Record<keyof Limits, [number, number]> = {
    maxConnections: [1, 10_000],
    maxInboundStreams: [1, 1024],
    maxLedgerFrame: [64 * 1024, 256 * 1024 * 1024],
    maxChunkRequest: [1024, 16 * 1024 * 1024],
    streamIdleMs: [100, 3_600_000],
    maxQuarantineBytes: [1024 * 1024, 16 * 1024 * 1024 * 1024],
    fetchBatchCommits: [1, 1_000_000],
    chunkRequestsPerPeer: [1, 64],
    minChunkRate: [1024, 1024 * 1024 * 1024],
  };
  for (const key of Object.keys(v)) {
    if (!(key in bounds))
      throw new ConfigError(
        file,
        `limits.${key}`,
        `unknown field (allowed: ${Object.keys(bounds).join(", ")})`,
      );
    const [min, max] = bounds[key as keyof Limits];
    out[key as keyof Limits] = int(file, `limits.${key}`, v[key], min, max);
  }
  return out;
}
