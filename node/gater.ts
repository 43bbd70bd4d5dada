/**
 * Membership gates the network: a connection is admitted only if the remote
 * peer's key (its peer id, checked by the Noise handshake) is an active
 * member in the charter of local main. Non-members never reach a sync
 * protocol. When main moves to a charter that revokes someone, `update`
 * returns the peers to hang up on.
 *
 * Before the node has a ledger (joining), it admits only outbound connections
 * to its configured bootstrap peers: it has no charter to judge by, and trusts
 * its own config to name whom to fetch the ledger from (the fetched ledger is
 * then verified, and must list this node as a member).
 */
import type { ConnectionGater, PeerId } from "@libp2p/interface";
import type { Charter } from "../ledger/charter.ts";
import { memberOf } from "./identity.ts";
import type { PeerTable } from "./peers.ts";

export interface GateDecision {
  admit: boolean;
  name?: string;
  reason?: string;
}

export class MembershipGate {
  #charter: Charter | undefined;
  readonly #bootstrap: Set<string>;
  readonly #peers: PeerTable;
  readonly #log: (line: string) => void;
  /** Refused connection attempts, by reason (for status and tests). */
  readonly refused = new Map<string, number>();
  #lastLogged = new Map<string, number>();

  constructor({
    bootstrapPeers,
    peers,
    log,
  }: {
    bootstrapPeers: string[];
    peers: PeerTable;
    log: (line: string) => void;
  }) {
    this.#bootstrap = new Set(bootstrapPeers);
    this.#peers = peers;
    this.#log = log;
  }

  get charter(): Charter | undefined {
    return this.#charter;
  }

  /** Takes main's new charter; returns the ids of connected peers no longer admitted. */
  update(charter: Charter | undefined, connected: PeerId[]): PeerId[] {
    this.#charter = charter;
    return connected.filter((p) => !this.decide(p, "outbound").admit);
  }

  /** Member name of a peer in the current charter (active or not). */
  nameOf(peer: PeerId): string | undefined {
    return this.#charter ? memberOf(this.#charter, peer)?.name : undefined;
  }

  decide(peer: PeerId, direction: "inbound" | "outbound"): GateDecision {
    const id = peer.toString();
    if (this.#peers.banned(id)) return { admit: false, reason: "banned for serving invalid data" };
    if (!this.#charter) {
      if (direction === "outbound" && this.#bootstrap.has(id)) return { admit: true };
      return { admit: false, reason: "no ledger yet: only configured bootstrap peers are dialed" };
    }
    const member = memberOf(this.#charter, peer);
    if (!member) return { admit: false, reason: "not a member" };
    if (member.revoked) return { admit: false, name: member.name, reason: "revoked member" };
    return { admit: true, name: member.name };
  }

  #deny(peer: PeerId, direction: "inbound" | "outbound"): boolean {
    const decision = this.decide(peer, direction);
    if (decision.admit) return false;
    const reason = decision.reason ?? "refused";
    this.refused.set(reason, (this.refused.get(reason) ?? 0) + 1);
    // One line per peer per minute: a refused peer that keeps dialing must not flood the log.
    const key = `${peer.toString()}:${reason}`;
    const now = Date.now();
    if (now - (this.#lastLogged.get(key) ?? 0) > 60_000) {
      this.#lastLogged.set(key, now);
      if (this.#lastLogged.size > 1000) this.#lastLogged = new Map();
      this.#log(`gate      refused ${direction} ${peer.toString()}: ${reason}`);
    }
    return true;
  }

  /** The js-libp2p connection gater backed by this gate. */
  connectionGater(): ConnectionGater {
    return {
      denyDialPeer: (peer) => this.#deny(peer, "outbound"),
      denyInboundEncryptedConnection: (peer) => this.#deny(peer, "inbound"),
      denyOutboundEncryptedConnection: (peer) => this.#deny(peer, "outbound"),
    };
  }
}
