/**
 * Frames on a libp2p stream: an unsigned-varint length, then that many bytes
 * (the layout of it-length-prefixed, as most libp2p protocols). The first
 * byte of a frame is its message kind; the rest is the payload (JSON for
 * control messages, raw bytes for objects and chunks).
 *
 *   ┌──────────────┬──────┬──────────────────────┐
 *   │ uvarint len  │ kind │ payload (len-1 bytes)│
 *   └──────────────┴──────┴──────────────────────┘
 *
 * The reader refuses a length above its cap as soon as the varint is decoded,
 * before buffering any payload, so an oversized frame costs nothing; it
 * aborts a stream that delivers no data for `idleMs` while a frame is
 * awaited, so a stalled peer cannot pin a stream slot.
 */
import type { Stream } from "@libp2p/interface";
import { LengthPrefixedDecoder } from "@libp2p/utils";
import { ProtocolError } from "./errors.ts";

/** What a stream's message carries, and a decoded frame: views of received buffers (a `Uint8ArrayList`). */
type Received = Parameters<LengthPrefixedDecoder["decode"]>[0];
type Decoded = ReturnType<LengthPrefixedDecoder["decode"]> extends Iterable<infer T> ? T : never;

export interface Frame {
  kind: number;
  payload: Uint8Array;
}

/** A frame as it arrived: its payload in one or more pieces (not joined). */
export interface FramePieces {
  kind: number;
  /** Payload length in bytes. */
  length: number;
  /** The payload, in order; views of the received buffers, nothing copied. */
  pieces: Uint8Array[];
}

/**
 * Reads frames off a stream. It listens to the stream's messages directly and
 * cuts frames out of them as they arrive (libp2p's `LengthPrefixedDecoder`),
 * so no async iterator, promise or timer is spent per frame: a chunk stream
 * carries thousands of frames a second. Once more than `maxBuffered` bytes of
 * frames wait to be read, it pauses the stream: Yamux then stops granting the
 * peer window, so a peer that sends faster than the caller reads (a flood, or
 * a large answer to a slow reader) is held back by flow control instead of
 * filling memory; the stream resumes when half of that is read. What a
 * paused stream may still receive is bounded by the Yamux window
 * (`MAX_STREAM_WINDOW`); a peer that ignores the window is cut off by Yamux.
 */
export class FrameReader {
  readonly #stream: Stream;
  readonly #maxFrame: number;
  readonly #maxBuffered: number;
  readonly #idleMs: number;
  readonly #decoder: LengthPrefixedDecoder;
  /** Decoded frames not yet read, from `#head` on, and their bytes. */
  #frames: Decoded[] = [];
  #head = 0;
  #queued = 0;
  /** Bytes received and not yet part of a decoded frame (a frame still arriving). */
  #partial = 0;
  #paused = false;
  #ended = false;
  #failure: Error | undefined;
  #wake: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  readonly #detach: () => void;
  /** Bytes of frames read so far (length prefixes excluded). */
  bytes = 0;

  constructor(
    stream: Stream,
    { maxFrame, idleMs, maxBuffered }: { maxFrame: number; idleMs: number; maxBuffered?: number },
  ) {
    this.#stream = stream;
    this.#maxFrame = maxFrame;
    this.#idleMs = idleMs;
    this.#maxBuffered = maxBuffered ?? 2 * maxFrame + 64 * 1024;
    this.#decoder = new LengthPrefixedDecoder({
      maxDataLength: maxFrame,
      // What the decoder holds: a frame still arriving, plus the piece being fed.
      maxBufferSize: maxFrame + MAX_PREFIX + FEED_BYTES,
    });
    // While paused, the peer may still use the window it was granted.
    stream.maxReadBufferLength = Math.max(
      stream.maxReadBufferLength,
      MAX_STREAM_WINDOW + FEED_BYTES,
    );
    const onMessage = (event: Event) => {
      this.#receive((event as Event & { data: Received }).data);
      this.#wakeUp();
    };
    // 'end': the peer closed its side and everything it sent was delivered
    // (a paused stream delivers what it holds on resuming, then ends).
    const onEnd = () => this.#end();
    const onClose = (event: Event) => {
      const error = (event as Event & { error?: Error }).error;
      if (error && !this.#failure) this.#failure = streamFailed(error);
      if (error || stream.readBufferLength === 0) this.#end();
    };
    stream.addEventListener("message", onMessage);
    stream.addEventListener("end", onEnd);
    stream.addEventListener("close", onClose);
    this.#detach = () => {
      stream.removeEventListener("message", onMessage);
      stream.removeEventListener("end", onEnd);
      stream.removeEventListener("close", onClose);
      clearTimeout(this.#timer);
    };
    // A stream that ended before this reader listened sends no event.
    if (stream.status === "aborted" || stream.status === "reset") {
      this.#failure = new ProtocolError(`stream ${stream.status} before it was read`);
      this.#end();
    } else if (stream.readableEnded) {
      this.#end();
    }
  }

  /** The next frame, or undefined when the peer closed its side cleanly. */
  async next(options: { signal?: AbortSignal } = {}): Promise<Frame | undefined> {
    const frame = await this.nextPieces(options);
    if (!frame) return undefined;
    const { kind, pieces, length } = frame;
    return { kind, payload: pieces.length === 1 ? pieces[0]! : joinPieces(pieces, length) };
  }

  /** The next frame, its payload left in the pieces it arrived in. */
  async nextPieces({ signal }: { signal?: AbortSignal } = {}): Promise<FramePieces | undefined> {
    for (;;) {
      const frame = this.#take();
      if (frame) return frame;
      if (this.#failure) throw this.#failure;
      if (this.#ended) {
        if (this.#partial > 0) throw new ProtocolError("stream ended inside a frame");
        return undefined;
      }
      await this.#waitForData(signal);
    }
  }

  /** The next frame, which must be of one of `kinds` (else a ProtocolError). */
  async expect(kinds: number[], options: { signal?: AbortSignal } = {}): Promise<Frame> {
    const frame = await this.next(options);
    if (!frame) throw new ProtocolError("stream ended early");
    checkKind(frame.kind, kinds);
    return frame;
  }

  #receive(data: Received): void {
    if (this.#ended) return;
    try {
      for (const buffer of data instanceof Uint8Array ? [data] : data) {
        // Fed in slices, so one large message (many whole frames) never
        // counts as one frame's bytes against the decoder's bound.
        for (let at = 0; at < buffer.length; at += FEED_BYTES) {
          const piece = buffer.subarray(at, at + FEED_BYTES);
          this.#partial += piece.length;
          for (const frame of this.#decoder.decode(piece)) {
            this.#partial -= prefixLength(frame.byteLength) + frame.byteLength;
            this.#frames.push(frame);
            this.#queued += frame.byteLength;
          }
        }
      }
    } catch {
      // The decoder refuses a length over `maxFrame` as soon as it reads it.
      this.#fail(
        new ProtocolError(`a frame longer than the ${this.#maxFrame}-byte limit; stream aborted`),
      );
      return;
    }
    if (this.#queued > this.#maxBuffered && !this.#paused) {
      this.#paused = true;
      this.#stream.pause();
    }
  }

  #take(): FramePieces | undefined {
    const frame = this.#frames[this.#head];
    if (!frame) return undefined;
    this.#frames[this.#head++] = undefined as unknown as Decoded;
    if (this.#head === this.#frames.length) {
      this.#frames = [];
      this.#head = 0;
    }
    this.#queued -= frame.byteLength;
    this.bytes += frame.byteLength;
    // Resuming delivers what the stream held meanwhile (through #receive), so it comes last.
    if (this.#paused && this.#queued <= this.#maxBuffered / 2 && !this.#ended) {
      this.#paused = false;
      try {
        this.#stream.resume();
      } catch (error) {
        // Closed meanwhile: its 'close' event says how.
        if (!this.#failure) this.#failure = streamFailed(error as Error);
      }
    }
    const [first, ...rest] = [...frame];
    if (!first || first.length === 0) throw new ProtocolError("empty frame");
    const pieces = first.length > 1 ? [first.subarray(1), ...rest] : rest;
    return {
      kind: first[0]!,
      length: frame.byteLength - 1,
      pieces: pieces.length ? pieces : [EMPTY],
    };
  }

  #end(): void {
    this.#ended = true;
    this.#detach();
    this.#wakeUp();
  }

  #fail(error: ProtocolError): void {
    this.#failure = error;
    this.#stream.abort(error);
    this.#end();
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  async #waitForData(signal: AbortSignal | undefined): Promise<void> {
    signal?.throwIfAborted();
    // One timer for the reader's life, re-armed for each wait: it fires only
    // if the wait it was armed for is still going on.
    this.#timer ??= setTimeout(() => {
      if (this.#wake) {
        this.#fail(new ProtocolError(`no data for ${this.#idleMs} ms; stream aborted`));
      }
    }, this.#idleMs).unref();
    this.#timer.refresh();
    const onAbort = () => this.#stream.abort(signal!.reason as Error);
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
    if (signal?.aborted && !this.#failure) this.#failure = streamFailed(signal.reason as Error);
  }
}

const EMPTY = new Uint8Array(0);
/**
 * The largest Yamux receive window a stream grows to (the muxer's default,
 * which the daemon keeps): what a peer may still send to a paused stream.
 */
export const MAX_STREAM_WINDOW = 16 * 1024 * 1024;
/** A length prefix is at most this long (a 35-bit length). */
const MAX_PREFIX = 5;
/** Received buffers are fed to the decoder in slices of at most this many bytes. */
const FEED_BYTES = 64 * 1024;

function checkKind(kind: number, kinds: number[]): void {
  if (!kinds.includes(kind))
    throw new ProtocolError(`unexpected message kind 0x${kind.toString(16)}`);
}

function streamFailed(error: Error): ProtocolError {
  if (error instanceof ProtocolError) return error;
  return new ProtocolError(`stream failed: ${error.message ?? String(error)}`, {
    cause: (error as { code?: string }).code ?? error.name,
  });
}

/**
 * Copies the bytes of `pieces` (laid end to end), from byte `skip` on, into
 * `target` until it is full or the pieces end; returns how many it copied.
 */
function copyPieces(pieces: Uint8Array[], target: Uint8Array, skip = 0): number {
  let at = 0;
  for (const piece of pieces) {
    if (at === target.length) break;
    if (skip >= piece.length) {
      skip -= piece.length;
      continue;
    }
    const view = piece.subarray(skip, skip + target.length - at);
    skip = 0;
    target.set(view, at);
    at += view.length;
  }
  return at;
}

/** `pieces` laid end to end in one new buffer of `length` bytes. */
function joinPieces(pieces: Uint8Array[], length: number): Uint8Array {
  const out = Buffer.allocUnsafe(length);
  copyPieces(pieces, out);
  return out;
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
 * Frames laid end to end in one buffer of `flushBytes` and sent together
 * when it is full or the next frame does not fit (a frame larger than the
 * batch goes alone): a chunk is small next to what the transport carries best
 * in one message, and each send costs an encryption and a muxer frame of its
 * own. A frame can be reserved and its payload filled in place (a chunk read
 * from disk straight into the buffer that goes out), so nothing is copied
 * between the disk read and the encryption.
 */
export class FrameBatch {
  readonly #stream: Stream;
  readonly #flushBytes: number;
  #buffer: Buffer | undefined;
  #used = 0;
  #lastStart = -1;
  #mustDrain = false;

  constructor(stream: Stream, flushBytes = 256 * 1024) {
    this.#stream = stream;
    this.#flushBytes = flushBytes;
  }

  /** Queues a frame (copying `parts`); sends the batch when it is full. Returns the frame's size. */
  async add(
    kind: number,
    parts: Uint8Array[],
    options: { signal?: AbortSignal } = {},
  ): Promise<number> {
    const [head = EMPTY, ...rest] = parts;
    let length = 0;
    for (const part of rest) length += part.length;
    const view = this.reserve(kind, head, length);
    let at = 0;
    for (const part of rest) {
      view.set(part, at);
      at += part.length;
    }
    await this.flushIfFull(options);
    const total = 1 + head.length + length;
    return prefixLength(total) + total;
  }

  /**
   * Queues a frame of `kind` whose payload is `head` then `length` bytes the
   * caller writes into the returned view before the next call on the batch.
   */
  reserve(kind: number, head: Uint8Array, length: number): Uint8Array {
    const total = 1 + head.length + length;
    const size = prefixLength(total) + total;
    if (this.#buffer && this.#used + size > this.#buffer.length) this.#send();
    // Sized to the batch, not beyond: every buffer sent is new memory (the
    // transport may hold it until encrypted), and its bytes drive collections.
    this.#buffer ??= Buffer.allocUnsafe(Math.max(this.#flushBytes, size));
    this.#lastStart = this.#used;
    let at = writePrefix(this.#buffer, this.#used, total);
    this.#buffer[at++] = kind;
    this.#buffer.set(head, at);
    at += head.length;
    this.#used = at + length;
    return this.#buffer.subarray(at, this.#used);
  }

  /** Takes back the frame the last `reserve` queued (its payload could not be filled). */
  unreserve(): void {
    if (this.#lastStart < 0) throw new Error("FrameBatch: nothing reserved to take back");
    this.#used = this.#lastStart;
    this.#lastStart = -1;
  }

  /** Whether the batch reached `flushBytes` (and `flush` is due). */
  get full(): boolean {
    return this.#used >= this.#flushBytes;
  }

  /** Sends the batch if it reached `flushBytes`. */
  async flushIfFull(options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.full) await this.flush(options);
  }

  /** Sends what is queued, waiting for the stream to drain when its buffer is full. */
  async flush({ signal }: { signal?: AbortSignal } = {}): Promise<void> {
    this.#send();
    if (this.#mustDrain) {
      this.#mustDrain = false;
      await this.#stream.onDrain({ signal });
    }
  }

  #send(): void {
    this.#lastStart = -1;
    if (!this.#buffer || this.#used === 0) return;
    // The buffer goes out as is (the transport may hold it until encrypted): a new one follows.
    const out = this.#buffer.subarray(0, this.#used);
    this.#buffer = undefined;
    this.#used = 0;
    if (!this.#stream.send(out)) this.#mustDrain = true;
  }
}

function prefixLength(length: number): number {
  let prefix = 1;
  for (let n = length; n >= 0x80; n = Math.floor(n / 0x80)) prefix++;
  return prefix;
}

/** Writes `length` as an unsigned varint at `at`; returns the offset after it. */
function writePrefix(out: Uint8Array, at: number, length: number): number {
  for (let n = length; ; n = Math.floor(n / 0x80)) {
    if (n < 0x80) {
      out[at++] = n;
      return at;
    }
    out[at++] = (n & 0x7f) | 0x80;
  }
}

/** One frame's bytes: length prefix, kind, then `parts` laid end to end (copied once). */
export function encodeFrame(kind: number, parts: Uint8Array[]): Uint8Array {
  let length = 1;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(prefixLength(length) + length);
  let at = writePrefix(out, 0, length);
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
