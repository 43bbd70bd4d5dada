/**
 * Messages of `/gdo/ledger/1` (RFC 7). One request per stream; the server
 * answers and closes.
 *
 *   client → server
 *     0x01 HEADS_REQ  {}                                   which branches do you have?
 *     0x02 FETCH_REQ  {want:[oid], have:[oid], maxCommits}  send history I lack
 *     0x03 ANNOUNCE   {heads:{branch:oid}}                 my heads moved (no answer)
 *   server → client
 *     0x81 HEADS      {ledger, genesis, heads:{branch:oid}}
 *     0x82 OBJECTS    packed objects (below), any number of frames
 *     0x83 DONE       {commits, objects, tips:[oid], truncated}
 *     0xEE ERROR      {code, message}
 *
 * An OBJECTS frame packs whole git objects back to back:
 *
 *   ┌────────┬──────────────┬─────────────────┐
 *   │ type u8│ length u32 BE│ content (length)│ …repeated
 *   └────────┴──────────────┴─────────────────┘   type: 1 commit, 2 tree, 3 blob
 *
 * Object ids are not sent: the receiver computes them from type and content.
 */
import type { ObjectType } from "../ledger/repository.ts";
import { ProtocolError } from "./errors.ts";
import { oidList } from "./frame.ts";

export const LEDGER_PROTOCOL = "/gdo/ledger/1";

export const HEADS_REQ = 0x01;
export const FETCH_REQ = 0x02;
export const ANNOUNCE = 0x03;
export const HEADS = 0x81;
export const OBJECTS = 0x82;
export const DONE = 0x83;
export const ERROR = 0xee;

/** Most wants and haves one FETCH_REQ may carry. */
export const MAX_IDS = 1024;
/** Most branches a HEADS or ANNOUNCE may list. */
export const MAX_BRANCHES = 4096;
/** An OBJECTS frame is flushed once it holds this much. */
export const OBJECTS_FRAME_BYTES = 256 * 1024;

const TYPE_CODE: Record<string, number> = { commit: 1, tree: 2, blob: 3 };
const CODE_TYPE: ObjectType[] = ["blob", "commit", "tree", "blob"];

export interface Heads {
  ledger: string;
  genesis: string;
  heads: Record<string, string>;
}

const BRANCH = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;

/** Validates a `{branch: oid}` map from a peer (branch names become ref names). */
export function parseHeadMap(value: unknown, field = "heads"): Record<string, string> {
  if (value === null || typeof value !== "object" || Array.isArray(value))
    throw new ProtocolError(`'${field}' must be an object of branch → block id`);
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length > MAX_BRANCHES) throw new ProtocolError(`too many branches in '${field}'`);
  const heads: Record<string, string> = {};
  for (const [branch, oid] of entries) {
    if (
      !BRANCH.test(branch) ||
      branch.length > 200 ||
      branch.split("/").some((p) => p.startsWith(".") || p.endsWith(".lock"))
    )
      throw new ProtocolError(`'${field}' names an unacceptable branch`, { branch });
    heads[branch] = oidList([oid], field, 1)[0]!;
  }
  return heads;
}

export function parseHeads(value: Record<string, unknown>): Heads {
  const [ledger, genesis] = [value.ledger, value.genesis];
  if (typeof ledger !== "string" || !/^[0-9a-f]{32}$/.test(ledger))
    throw new ProtocolError("HEADS: 'ledger' must be a ledger id");
  return {
    ledger,
    genesis: oidList([genesis], "genesis", 1)[0]!,
    heads: parseHeadMap(value.heads),
  };
}

/** Packs objects into one OBJECTS payload. */
export function packObjects(objects: { type: ObjectType; content: Uint8Array }[]): Uint8Array {
  let size = 0;
  for (const o of objects) size += 5 + o.content.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let at = 0;
  for (const o of objects) {
    const code = TYPE_CODE[o.type];
    if (!code) throw new ProtocolError(`cannot send a ${o.type}`);
    out[at] = code;
    view.setUint32(at + 1, o.content.length);
    out.set(o.content, at + 5);
    at += 5 + o.content.length;
  }
  return out;
}

/** Unpacks an OBJECTS payload (views into it, not copies). */
export function* unpackObjects(
  payload: Uint8Array,
): Generator<{ type: ObjectType; content: Uint8Array }> {
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  let at = 0;
  while (at < payload.length) {
    if (at + 5 > payload.length) throw new ProtocolError("OBJECTS: truncated object header");
    const code = payload[at]!;
    const length = view.getUint32(at + 1);
    if (code < 1 || code > 3) throw new ProtocolError(`OBJECTS: unknown object type ${code}`);
    if (at + 5 + length > payload.length) throw new ProtocolError("OBJECTS: truncated object");
    yield { type: CODE_TYPE[code]!, content: payload.subarray(at + 5, at + 5 + length) };
    at += 5 + length;
  }
}
