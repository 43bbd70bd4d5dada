/**
 * The narrow slice of libp2p the sync protocols use. The daemon provides it
 * from a libp2p node; a protocol never sees the rest of libp2p.
 */
import type { PeerId, Stream } from "@libp2p/interface";

export type ProtocolHandler = (stream: Stream, peer: PeerId) => Promise<void>;

export interface SyncNetwork {
  handle(
    protocol: string,
    handler: ProtocolHandler,
    options: { maxInboundStreams: number; maxOutboundStreams: number },
  ): Promise<void>;
  unhandle(protocol: string): Promise<void>;
  openStream(peer: PeerId, protocol: string, options: { signal?: AbortSignal }): Promise<Stream>;
  /** Peers with an open connection. */
  connectedPeers(): PeerId[];
}

/** Hooks a test-only entry point may install to make a node serve bad data. Never set by `gdo node`. */
export interface ServeHooks {
  heads?: (
    heads: Record<string, string>,
  ) => Record<string, string> | Promise<Record<string, string>>;
  chunk?: (id: string, bytes: Uint8Array) => Uint8Array;
  /** Waits this long before serving each chunk (a peer on a crawling link). */
  chunkDelayMs?: number;
}
