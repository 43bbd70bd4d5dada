/**
 * A node's libp2p identity is its member key: the peer id is derived from the
 * same ed25519 public key the charter lists, so "who is this peer" and "which
 * member is this" are one question, answered by the Noise handshake.
 */
import { generateKeyPairFromSeed } from "@libp2p/crypto/keys";
import type { PeerId, PrivateKey } from "@libp2p/interface";
import { peerIdFromPrivateKey, peerIdFromString } from "@libp2p/peer-id";
import type { Charter, Member } from "../ledger/charter.ts";
import { publicKeyFromRaw, type SshPrivateKey, type SshPublicKey } from "../ledger/sshkey.ts";

export async function libp2pKey(key: SshPrivateKey): Promise<PrivateKey> {
  return generateKeyPairFromSeed("Ed25519", key.seed);
}

export async function peerIdOf(key: SshPrivateKey): Promise<PeerId> {
  return peerIdFromPrivateKey(await libp2pKey(key));
}

/** The ledger key behind a peer id, or undefined for a non-ed25519 peer. */
export function memberKeyOf(peer: PeerId): SshPublicKey | undefined {
  if (peer.type !== "Ed25519" || !peer.publicKey) return undefined;
  try {
    return publicKeyFromRaw(peer.publicKey.raw);
  } catch {
    return undefined;
  }
}

/** The member a peer id stands for in a charter (active or revoked), if any. */
export function memberOf(charter: Charter, peer: PeerId): Member | undefined {
  const key = memberKeyOf(peer);
  return key ? charter.memberByKey(key) : undefined;
}

export function parsePeerId(text: string): PeerId {
  return peerIdFromString(text);
}
