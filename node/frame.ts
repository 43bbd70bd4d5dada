/**
 * Frames on a libp2p stream: an unsigned-varint length, then that many bytes
 * (it-length-prefixed, as most libp2p protocols). The first byte of a frame is
 * its message kind; the rest is the payload (JSON for control messages, raw
 * bytes for objects and chunks).
 *
 *   ┌──────────────┬──────┬──────────────────────┐
 *   │ uvarint len  │ kind │ payload (len-1 bytes)│
 *   └──────────────┴──────┴──────────────────────┘
 *
 * The reader refuses a length above its cap as soon as the varint is decoded,
 * before buffering any payload, so an oversized frame costs nothing; and it
 * aborts a stream that delivers no frame for `idleMs`, so a stalled peer
 * cannot pin a stream slot.
 */
import type { Stream } from "@libp2p/interface";
import * as lp from "it-length-prefixed";
import { ProtocolError } from "./errors.ts";

export interface Frame {
  kind: number;
  payload: Uint8Array;
}

export class FrameReader {
  readonly #stream: Stream;
  readonly #frames: AsyncIterator<{ subarray(): Uint8Array }>;
  readonly #idleMs: number;
  /** Bytes of frames read so far (length prefixes excluded). */
  bytes = 0;

  constructor(stream: Stream, { maxFrame, idleMs }: { maxFrame: number; idleMs: number }) {
    this.#stream = stream;
    this.#idleMs = idleMs;
    this.#frames = lp.decode(stream, { maxDataLength: maxFrame })[Symbol.asyncIterator]();
  }

  /** The next frame, or undefined when the peer closed its side cleanly. */
  async next({ signal }: { signal?: AbortSignal } = {}): Promise<Frame | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const stalled = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = new ProtocolError(`no data for ${this.#idleMs} ms; stream aborted`);
        this.#stream.abort(error);
        reject(error);
      }, this.#idleMs);
    });
    const onAbort = () => this.#stream.abort(signal!.reason as Error);
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const result = await Promise.race([this.#frames.next(), stalled]);
      if (result.done) return undefined;
      const bytes = result.value.subarray();
      if (bytes.length === 0) throw new ProtocolError("empty frame");
      this.bytes += bytes.length;
      return { kind: bytes[0]!, payload: bytes.subarray(1) };
    } catch (error) {
      if (error instanceof ProtocolError) throw error;
      const message = (error as Error).message ?? String(error);
      throw new ProtocolError(`stream failed: ${message}`, {
        cause: (error as { code?: string; name?: string }).code ?? (error as Error).name,
      });
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    }
  }

  /** The next frame, which must be of one of `kinds` (else a ProtocolError). */
  async expect(kinds: number[], options: { signal?: AbortSignal } = {}): Promise<Frame> {
    const frame = await this.next(options);
    if (!frame) throw new ProtocolError("stream ended early");
    if (!kinds.includes(frame.kind))
      throw new ProtocolError(`unexpected message kind 0x${frame.kind.toString(16)}`);
    return frame;
  }
}

/** Sends one frame, waiting for the stream to drain when its buffer is full. */
export async function sendFrame(
  stream: Stream,
  kind: number,
  payload: Uint8Array,
  options: { signal?: AbortSignal } = {},
): Promise<number> {
  return sendFrameParts(stream, kind, [payload], options);
}

/**
 * Sends one frame whose payload is `parts` laid end to end, copied once into
 * the buffer that goes out (length prefix, kind, parts): a chunk frame is not
 * assembled, then prefixed, then copied again.
 */
export async function sendFrameParts(
  stream: Stream,
  kind: number,
  parts: Uint8Array[],
  { signal }: { signal?: AbortSignal } = {},
): Promise<number> {
  const out = encodeFrame(kind, parts);
  if (!stream.send(out)) await stream.onDrain({ signal });
  return out.length;
}

/**
 * Frames queued and sent together once they add up to `flushBytes`: a chunk
 * is small next to what the transport carries best in one message, and each
 * send costs an encryption and a muxer frame of its own.
 */
export class FrameBatch {
  readonly #stream: Stream;
  readonly #flushBytes: number;
  #frames: Uint8Array[] = [];
  #bytes = 0;

  constructor(stream: Stream, flushBytes = 256 * 1024) {
    this.#stream = stream;
    this.#flushBytes = flushBytes;
  }

  /** Queues a frame; sends the batch when it is full. Returns the frame's size. */
  async add(
    kind: number,
    parts: Uint8Array[],
    options: { signal?: AbortSignal } = {},
  ): Promise<number> {
    const frame = encodeFrame(kind, parts);
    this.#frames.push(frame);
    this.#bytes += frame.length;
    if (this.#bytes >= this.#flushBytes) await this.flush(options);
    return frame.length;
  }

  async flush({ signal }: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.#frames.length === 0) return;
    const out =
      this.#frames.length === 1 ? this.#frames[0]! : Buffer.concat(this.#frames, this.#bytes);
    this.#frames = [];
    this.#bytes = 0;
    if (!this.#stream.send(out)) await this.#stream.onDrain({ signal });
  }
}

/** One frame's bytes: length prefix, kind, then `parts` laid end to end (copied once). */
export function encodeFrame(kind: number, parts: Uint8Array[]): Uint8Array {
  let length = 1;
  for (const part of parts) length += part.length;
  let prefix = 1;
  for (let n = length; n >= 0x80; n = Math.floor(n / 0x80)) prefix++;
  const out = new Uint8Array(prefix + length);
  let at = 0;
  for (let n = length; ; n = Math.floor(n / 0x80)) {
    if (n < 0x80) {
      out[at++] = n;
      break;
    }
    out[at++] = (n & 0x7f) | 0x80;
  }
  out[at++] = kind;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

export function sendJson(
  stream: Stream,
  kind: number,
  value: unknown,
  options: { signal?: AbortSignal } = {},
): Promise<number> {
  return sendFrame(stream, kind, encoder.encode(JSON.stringify(value)), options);
}

/** Parses a JSON payload into a plain object, or throws a ProtocolError. */
export function parseJson(payload: Uint8Array, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(payload));
  } catch {
    throw new ProtocolError(`${what}: not valid JSON`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value))
    throw new ProtocolError(`${what}: must be a JSON object`);
  return value as Record<string, unknown>;
}

const OID = /^[0-9a-f]{40}$/;

/** A list of 40-hex object ids from a peer, at most `max` of them. */
export function oidList(value: unknown, field: string, max: number): string[] {
  if (!Array.isArray(value) || value.length > max)
    throw new ProtocolError(`'${field}' must be a list of at most ${max} object ids`);
  for (const oid of value) {
    if (typeof oid !== "string" || !OID.test(oid))
      throw new ProtocolError(`'${field}' holds something that is not an object id`);
  }
  return value as string[];
}
