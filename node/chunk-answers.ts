/**
 * The asking side of a `/gdo/chunks/1` stream: the answers to its GETs, read
 * as the transport delivers them.
 *
 * Each chunk's bytes are copied into a group buffer (`ChunkGroup`) inside the
 * stream's message event, right after the transport decrypted them: no
 * frame is queued, no promise is made per chunk (a blob has thousands), and
 * the transport's buffer is let go at once instead of waiting in a queue
 * while groups are stored. The copy itself is the receiving node's largest
 * cost after decryption (RFC 7); see `BufferPool.take` for what made it
 * cheaper.
 *
 * Frames (see `frame.ts`) answer the GETs in order, one per asked id:
 *
 *   CHUNK    id (32 bytes) ‖ chunk bytes
 *   MISSING  id (32 bytes)
 *
 * A frame of another kind, for another id, longer than a chunk can be, or
 * with no GET waiting for it fails the stream (`ProtocolError`), as does
 * silence for `idleMs` while an answer is awaited, or an answer arriving
 * slower than `minRate`. While `maxStoring` groups are being stored the
 * stream is paused, so Yamux stops granting the peer window: what a slow
 * disk holds back is the peer, not memory.
 */
import type { Stream } from "@libp2p/interface";
import { type BufferPool, ChunkGroup } from "./chunk-group.ts";
import { CHUNK, MISSING } from "./chunk-wire.ts";
import { ProtocolError } from "./errors.ts";
import { MAX_STREAM_WINDOW } from "./frame.ts";

const ID_BYTES = 32;
/** A length prefix is at most this long (a 35-bit length). */
const MAX_PREFIX = 5;
/** What each byte of a length prefix counts for: `2 ** (7 * k)` worked out once (pow per byte was 1% of a receiving node's time). */
const PREFIX_SCALE = Array.from({ length: MAX_PREFIX }, (_, k) => 2 ** (7 * k));

type Received = Uint8Array | Iterable<Uint8Array>;

/** The answer to one GET: a promise of its chunks being stored, once all arrived. */
export interface Answered {
  stored: Promise<void>;
}

interface Asked<T> {
  items: T[];
  /** The items' ids, 32 bytes each, end to end. */
  ids: Uint8Array;
  /** Index of the item the next frame answers. */
  next: number;
  /** Stores of the answer's groups begun so far. */
  stores: Promise<void>[];
  resolve(answer: Answered): void;
  reject(error: Error): void;
}

export interface ChunkAnswersInit<T> {
  /** Where chunk bytes are copied (group buffers are taken from it and given back once stored). */
  buffers: BufferPool;
  /**
   * Stores a group's chunks; resolves with the buffer to give back to the
   * pool (the group's, or the one it came back as from another thread).
   */
  store(group: ChunkGroup<T>): Promise<Uint8Array>;
  /** The peer said it lacks `item`. */
  missing(item: T): void;
  maxChunk: number;
  idleMs: number;
  /** Groups being stored at once before the stream is paused. */
  maxStoring: number;
  /**
   * With `lengthOf`: the slowest an answer may arrive, in bytes/s, timed from
   * when it is the one being answered (it gets `idleMs` at least, and time
   * this side held the stream paused is not counted). A peer that keeps a
   * stream barely alive, a trickle that no idle timeout catches, fails it.
   */
  minRate?: number;
  /** An item's expected length in bytes (for `minRate`). */
  lengthOf?: (item: T) => number;
  /** Aborting it fails what is asked and aborts the stream (the node is stopping). */
  signal: AbortSignal;
}

/** Which part of a frame the next byte belongs to. */
const Part = { Prefix: 0, Kind: 1, Id: 2, Body: 3 } as const;
type Part = (typeof Part)[keyof typeof Part];

export class ChunkAnswers<T> {
  readonly #stream: Stream;
  readonly #init: ChunkAnswersInit<T>;
  readonly #asked: Asked<T>[] = [];
  #failure: Error | undefined;
  #storing = 0;
  #paused = false;
  #timer: NodeJS.Timeout | undefined;
  /** Fires when the answer being read is due in full (`minRate`). */
  #deadline: NodeJS.Timeout | undefined;
  /** Time this side held the stream paused, over its life (ms), and since when it holds it now. */
  #pausedBefore = 0;
  #pausedAt = 0;
  readonly #detach: () => void;

  // Where the frame being read stands.
  #part: Part = Part.Prefix;
  #length = 0;
  #prefixBytes = 0;
  #kind = 0;
  readonly #id = Buffer.alloc(ID_BYTES);
  #idAt = 0;
  #body: Uint8Array | undefined;
  #bodyAt = 0;
  /** The group the current answer's chunks are copied into. */
  #group: ChunkGroup<T> | undefined;

  constructor(stream: Stream, init: ChunkAnswersInit<T>) {
    this.#stream = stream;
    this.#init = init;
    // While paused, the peer may still use the window it was granted.
    stream.maxReadBufferLength = Math.max(stream.maxReadBufferLength, MAX_STREAM_WINDOW);
    const onMessage = (event: Event) => this.#receive((event as Event & { data: Received }).data);
    const onEnd = () => this.#fail(new ProtocolError("stream ended before every GET was answered"));
    const onClose = (event: Event) => {
      const error = (event as Event & { error?: Error }).error;
      if (error) {
        this.#fail(
          new ProtocolError(`stream failed: ${error.message}`, {
            cause: (error as { code?: string }).code ?? error.name,
          }),
        );
      } else if (stream.readBufferLength === 0) {
        // (A paused stream that closed still delivers what it holds on resuming.)
        this.#fail(new ProtocolError("stream closed before every GET was answered"));
      }
    };
    const { signal } = init;
    const onAbort = () => {
      const error = signal.reason as Error;
      this.#fail(error);
      stream.abort(error);
    };
    stream.addEventListener("message", onMessage);
    stream.addEventListener("end", onEnd);
    stream.addEventListener("close", onClose);
    signal.addEventListener("abort", onAbort, { once: true });
    this.#detach = () => {
      stream.removeEventListener("message", onMessage);
      stream.removeEventListener("end", onEnd);
      stream.removeEventListener("close", onClose);
      signal.removeEventListener("abort", onAbort);
      clearTimeout(this.#timer);
      clearTimeout(this.#deadline);
    };
    if (signal.aborted) onAbort();
  }

  /**
   * Expects the answer to a GET for `items` (whose ids are `ids`), after
   * those asked before: call it before sending the GET.
   */
  expect(items: T[], ids: Uint8Array): Promise<Answered> {
    const { promise, resolve, reject } = Promise.withResolvers<Answered>();
    // Awaited in order by the caller, maybe after others fail: not an unhandled rejection meanwhile.
    promise.catch(() => {});
    if (this.#failure) reject(this.#failure);
    else if (items.length === 0) resolve({ stored: Promise.resolve() });
    else {
      this.#asked.push({ items, ids, next: 0, stores: [], resolve, reject });
      this.#armTimer();
      if (this.#asked.length === 1) this.#armDeadline();
    }
    return promise;
  }

  /** Stops reading: what is still asked fails with `error`. */
  fail(error: Error): void {
    this.#fail(error);
  }

  #receive(data: Received): void {
    if (this.#failure) return;
    this.#timer?.refresh();
    try {
      for (const buffer of data instanceof Uint8Array ? [data] : data) this.#read(buffer);
    } catch (error) {
      this.#fail(error as Error);
      this.#stream.abort(error as Error);
    }
  }

  /** Reads `buffer` into the frames it continues. */
  #read(buffer: Uint8Array): void {
    let at = 0;
    while (at < buffer.length) {
      switch (this.#part) {
        case Part.Prefix: {
          const byte = buffer[at++]!;
          this.#length += (byte & 0x7f) * PREFIX_SCALE[this.#prefixBytes++]!;
          if (byte >= 0x80) {
            if (this.#prefixBytes === MAX_PREFIX) throw new ProtocolError("frame length too long");
            break;
          }
          if (this.#length > 1 + ID_BYTES + this.#init.maxChunk) {
            throw new ProtocolError(
              `a frame of ${this.#length} bytes, longer than any chunk's answer`,
            );
          }
          if (this.#length < 1 + ID_BYTES) throw new ProtocolError("chunk frame without an id");
          this.#part = Part.Kind;
          break;
        }
        case Part.Kind: {
          this.#kind = buffer[at++]!;
          if (this.#kind !== CHUNK && this.#kind !== MISSING) {
            throw new ProtocolError(`unexpected message kind 0x${this.#kind.toString(16)}`);
          }
          if (this.#kind === MISSING && this.#length !== 1 + ID_BYTES) {
            throw new ProtocolError("a MISSING frame carries only an id");
          }
          if (!this.#asked[0]) throw new ProtocolError("an answer to no GET");
          this.#part = Part.Id;
          this.#idAt = 0;
          break;
        }
        case Part.Id: {
          const take = Math.min(ID_BYTES - this.#idAt, buffer.length - at);
          this.#id.set(buffer.subarray(at, at + take), this.#idAt);
          at += take;
          this.#idAt += take;
          if (this.#idAt === ID_BYTES) this.#idRead();
          break;
        }
        case Part.Body: {
          const body = this.#body!;
          const take = Math.min(body.length - this.#bodyAt, buffer.length - at);
          body.set(buffer.subarray(at, at + take), this.#bodyAt);
          at += take;
          this.#bodyAt += take;
          if (this.#bodyAt === body.length) this.#itemDone();
          break;
        }
      }
    }
  }

  #idRead(): void {
    const asked = this.#asked[0]!;
    const start = asked.next * ID_BYTES;
    if (!this.#id.equals(asked.ids.subarray(start, start + ID_BYTES))) {
      throw new ProtocolError("chunks answered out of order");
    }
    const item = asked.items[asked.next]!;
    if (this.#kind === MISSING) {
      this.#init.missing(item);
      this.#itemDone();
      return;
    }
    const size = this.#length - 1 - ID_BYTES;
    if (this.#group && !this.#group.fits(size)) this.#storeGroup(asked);
    this.#group ??= new ChunkGroup(this.#init.buffers.take(size));
    this.#body = this.#group.reserve(item, size);
    this.#bodyAt = 0;
    this.#part = Part.Body;
    if (size === 0) this.#itemDone();
  }

  #itemDone(): void {
    this.#part = Part.Prefix;
    this.#length = 0;
    this.#prefixBytes = 0;
    this.#body = undefined;
    const asked = this.#asked[0]!;
    if (++asked.next === asked.items.length) this.#answered();
  }

  /** The oldest GET is answered whole: its last group goes to be stored. */
  #answered(): void {
    const asked = this.#asked.shift()!;
    this.#armDeadline();
    this.#storeGroup(asked);
    asked.resolve({ stored: Promise.all(asked.stores).then(() => {}) });
  }

  #storeGroup(asked: Asked<T>): void {
    const group = this.#group;
    this.#group = undefined;
    if (!group) return;
    if (group.items.length === 0) {
      this.#init.buffers.give(group.buffer);
      return;
    }
    this.#storing++;
    if (this.#storing >= this.#init.maxStoring && !this.#paused && !this.#failure) {
      this.#paused = true;
      this.#pausedAt = performance.now();
      this.#stream.pause();
    }
    const stored = this.#init.store(group).then(
      (buffer) => {
        this.#init.buffers.give(buffer);
        this.#settled();
      },
      (error: unknown) => {
        // Given back only if it did not move away (the pool lets a detached one go).
        this.#init.buffers.give(group.buffer);
        this.#settled();
        throw error;
      },
    );
    // Seen by the answer's `stored` or by `#fail`, maybe later than it settles.
    stored.catch(() => {});
    asked.stores.push(stored);
  }

  /** A group's store settled: the stream may take more. */
  #settled(): void {
    this.#storing--;
    if (this.#paused && this.#storing < this.#init.maxStoring && !this.#failure) {
      this.#paused = false;
      this.#pausedBefore += performance.now() - this.#pausedAt;
      this.#timer?.refresh();
      try {
        this.#stream.resume();
      } catch (error) {
        // Closed meanwhile: its 'close' event says how.
        this.#fail(error as Error);
      }
    }
  }

  #armTimer(): void {
    // One timer for the stream's life, re-armed by every delivery, GET and
    // resume: it fails the stream only if an answer is awaited, the stream
    // is not paused by this side, and nothing came for `idleMs`.
    this.#timer ??= setTimeout(() => {
      if (this.#asked.length > 0 && !this.#paused) {
        const error = new ProtocolError(`no data for ${this.#init.idleMs} ms; stream aborted`);
        this.#fail(error);
        this.#stream.abort(error);
      }
    }, this.#init.idleMs).unref();
    this.#timer.refresh();
  }

  /** Times the answer now being read (the oldest GET), if `minRate` is set. */
  #armDeadline(): void {
    clearTimeout(this.#deadline);
    const { minRate, lengthOf, idleMs } = this.#init;
    const head = this.#asked[0];
    if (!head || !minRate || !lengthOf) return;
    let bytes = 0;
    for (const item of head.items) bytes += lengthOf(item);
    const dueMs = Math.max(idleMs, (bytes / minRate) * 1000);
    const started = performance.now();
    const pausedAtStart = this.#pausedMs(started);
    const check = () => {
      if (this.#asked[0] !== head || this.#failure) return;
      // Time paused by this side (its disk behind) is not the peer's.
      const now = performance.now();
      const left = dueMs + (this.#pausedMs(now) - pausedAtStart) - (now - started);
      if (left > 0) {
        this.#deadline = setTimeout(check, left).unref();
        return;
      }
      const error = new ProtocolError(
        `an answer of ${bytes} bytes was not in after ${Math.round(now - started)} ms (slower than ${minRate} bytes/s); stream aborted`,
      );
      this.#fail(error);
      this.#stream.abort(error);
    };
    this.#deadline = setTimeout(check, dueMs).unref();
  }

  #pausedMs(now: number): number {
    return this.#pausedBefore + (this.#paused ? now - this.#pausedAt : 0);
  }

  #fail(error: Error): void {
    if (this.#failure) return;
    this.#failure = error;
    this.#detach();
    // The chunks of the group being filled that arrived whole are stored all
    // the same (each is hashed before it is written, as any): a transfer cut
    // off mid-answer then resumes without fetching them again. Not when this
    // node is stopping.
    const group = this.#group;
    const current = this.#asked[0];
    if (group && this.#part === Part.Body) group.dropLast();
    if (group && current && !this.#init.signal.aborted) this.#storeGroup(current);
    else if (group) this.#init.buffers.give(group.buffer);
    this.#group = undefined;
    for (const asked of this.#asked.splice(0)) {
      // Rejected once the answer's stores begun have settled, so none of its
      // chunks is asked again while still being written.
      void Promise.allSettled(asked.stores).then(() => asked.reject(error));
    }
  }
}
