/**
 * Messages of `/gdo/chunks/1` (RFC 7). A stream carries many requests,
 * answered in order, until the client closes its side.
 *
 *   client → server   0x01 GET      {ids:[64-hex…]}     (≤ 256 ids per request)
 *   server → client   0x81 CHUNK    id (32 bytes) ‖ chunk bytes      one frame per id, in order
 *                     0x82 MISSING  id (32 bytes)                    not here (or unreadable)
 *
 * The client sends its next GET before the current answer ends, so the
 * server never waits for work, and a stream's flow-control window grows
 * once instead of starting small for every request.
 */
import { isHexId } from "../ledger/blobs/hex-id.ts";
import { ProtocolError } from "./errors.ts";

export const CHUNK_PROTOCOL = "/gdo/chunks/1";

export const GET = 0x01;
export const CHUNK = 0x81;
export const MISSING = 0x82;

/** Most ids one GET may carry. */
export const MAX_GET_IDS = 256;

/** A GET's `ids`, checked: at most `MAX_GET_IDS` lowercase hex chunk ids. */
export function parseGetIds(ids: unknown): string[] {
  // A string each (`isHexId`): a regular expression alone would pass ["<id>"] by its string form.
  if (!Array.isArray(ids) || ids.length > MAX_GET_IDS || !ids.every(isHexId))
    throw new ProtocolError(`GET: 'ids' must be at most ${MAX_GET_IDS} chunk ids`);
  return ids as string[];
}
