/**
 * What the node knows about each peer: who it is in the charter, whether it
 * is connected, its last advertised heads, bytes moved and its score. A peer
 * that serves something that does not verify loses score; below
 * `BAN_SCORE` it is disconnected and refused for `BAN_MS`.
 */
export const BAN_SCORE = -30;
export const BAN_MS = 5 * 60_000;

export interface PeerRecord {
  id: string;
  /** Member name in the local charter (undefined while unknown). */
  name: string | undefined;
  connected: boolean;
  score: number;
  heads: Record<string, string>;
  lastSync: number | undefined;
  lastError: string | undefined;
  blocksIn: number;
  bytesIn: number;
  bytesOut: number;
  chunksIn: number;
  chunkBytesIn: number;
  chunkBytesOut: number;
  refusedHeads: number;
  refusedChunks: number;
  bannedUntil: number;
}

export class PeerTable {
  readonly #peers = new Map<string, PeerRecord>();
  readonly #clock: () => number;

  constructor({ clock = Date.now }: { clock?: () => number } = {}) {
    this.#clock = clock;
  }

  get(id: string): PeerRecord {
    let peer = this.#peers.get(id);
    if (!peer) {
      peer = {
        id,
        name: undefined,
        connected: false,
        score: 0,
        heads: {},
        lastSync: undefined,
        lastError: undefined,
        blocksIn: 0,
        bytesIn: 0,
        bytesOut: 0,
        chunksIn: 0,
        chunkBytesIn: 0,
        chunkBytesOut: 0,
        refusedHeads: 0,
        refusedChunks: 0,
        bannedUntil: 0,
      };
      this.#peers.set(id, peer);
    }
    return peer;
  }

  all(): PeerRecord[] {
    return [...this.#peers.values()];
  }

  connected(): PeerRecord[] {
    return this.all().filter((p) => p.connected);
  }

  /** Lowers a peer's score; returns true if that bans it. */
  penalize(id: string, points: number, reason: string): boolean {
    const peer = this.get(id);
    peer.score -= points;
    peer.lastError = reason;
    if (peer.score <= BAN_SCORE && !this.banned(id)) {
      peer.bannedUntil = this.#clock() + BAN_MS;
      return true;
    }
    return false;
  }

  reward(id: string, points = 1): void {
    const peer = this.get(id);
    peer.score = Math.min(100, peer.score + points);
  }

  banned(id: string): boolean {
    return (this.#peers.get(id)?.bannedUntil ?? 0) > this.#clock();
  }
}
