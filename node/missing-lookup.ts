/**
 * Which of a fetch's wanted chunks the store lacks, looked up a slice at a
 * time, so that the first requests go out while the rest are looked up: a
 * large blob's 7,000 chunks took 10-30 ms to look up, with both nodes idle
 * until the first request.
 *
 * After the first slice, the next is looked up only once the chunks found
 * and not yet asked for fall below `lowWaterBytes` (or someone waits in
 * `next`): looking up the rest at once held the main thread while the first
 * streams were being opened, and the peer's answer to each open waited for
 * it (20-60 ms before the first request went out, against 8 ms without).
 */

export interface WantedChunk {
  id: string;
  length: number;
}

export interface MissingLookupInit<T extends WantedChunk> {
  /** In the order they are to be fetched, each once. */
  wanted: readonly T[];
  /** Which of `ids` the store lacks. */
  missing(ids: string[]): Promise<string[]>;
  /** Called for each chunk found missing, in `wanted` order. */
  found(chunk: T): void;
  /** Chunks looked up first (enough to fill every request slot), then per slice. */
  firstSlice?: number;
  slice?: number;
  /**
   * The next slice is looked up once fewer bytes than this are found and
   * not asked for (default: at once, every slice in a row).
   */
  lowWaterBytes?: number;
}

export class MissingLookup<T extends WantedChunk> {
  /** Every slice is looked up (or the lookup failed: `done` says why). */
  finished = false;
  /** Settles once every slice is looked up; rejects with the lookup's error. */
  readonly done: Promise<void>;
  /** Chunks found missing so far. */
  foundCount = 0;
  #unrequested = 0;
  /** Bytes of the chunks not yet looked up. */
  #unlooked = 0;
  #unlookedCount: number;
  #lowWater: number;
  #waiters: (() => void)[] = [];
  /** Resolves the lookup's wait for demand (see `lowWaterBytes`). */
  #demanded: (() => void) | undefined;

  constructor(init: MissingLookupInit<T>) {
    for (const w of init.wanted) this.#unlooked += w.length;
    this.#unrequested = this.#unlooked;
    this.#unlookedCount = init.wanted.length;
    this.#lowWater = init.lowWaterBytes ?? Number.POSITIVE_INFINITY;
    this.done = this.#run(init);
    // Awaited by the fetch at its end; a failure before then must not be an unhandled rejection.
    this.done.catch(() => {});
  }

  /**
   * Bytes not yet asked for: chunks found missing and not taken, and chunks
   * not yet looked up (counted as missing until they are).
   */
  get unrequestedBytes(): number {
    return this.#unrequested;
  }

  /** Chunks not yet looked up. */
  get unlookedChunks(): number {
    return this.#unlookedCount;
  }

  /** The fetch asked for chunks of `bytes` in all. */
  taken(bytes: number): void {
    this.#unrequested -= bytes;
    if (this.#belowLowWater()) this.#demand();
  }

  /** Chunks of `bytes` in all are to be asked for again (their request failed). */
  returned(bytes: number): void {
    this.#unrequested += bytes;
  }

  /** Looks up every slice left without waiting for demand (the fetch is done asking; `done` says when). */
  lookUpRest(): Promise<void> {
    this.#lowWater = Number.POSITIVE_INFINITY;
    this.#demand();
    return this.done;
  }

  /** Resolves once the next slice is looked up (at once if all are). */
  next(): Promise<void> {
    if (this.finished) return Promise.resolve();
    const waiting = new Promise<void>((resolve) => this.#waiters.push(resolve));
    this.#demand();
    return waiting;
  }

  async #run({ wanted, missing, found, firstSlice = 1024, slice = 4096 }: MissingLookupInit<T>) {
    try {
      for (let at = 0; at < wanted.length; ) {
        if (at > 0) await this.#untilDemanded();
        const part = wanted.slice(at, at + (at === 0 ? firstSlice : slice));
        at += part.length;
        const absent = new Set(await missing(part.map((w) => w.id)));
        this.#unlookedCount -= part.length;
        for (const w of part) {
          this.#unlooked -= w.length;
          if (absent.has(w.id)) {
            this.foundCount++;
            found(w);
          } else {
            this.#unrequested -= w.length;
          }
        }
        this.#wake();
      }
    } finally {
      this.finished = true;
      this.#wake();
    }
  }

  /** Waits until a slice is wanted: a waiter in `next`, or too few found bytes left. */
  #untilDemanded(): Promise<void> {
    if (this.#waiters.length > 0 || this.#belowLowWater()) {
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.#demanded = resolve;
    });
  }

  /** Whether the chunks found and not yet asked for are fewer bytes than `lowWaterBytes`. */
  #belowLowWater(): boolean {
    return this.#unrequested - this.#unlooked < this.#lowWater;
  }

  #demand(): void {
    const resolve = this.#demanded;
    this.#demanded = undefined;
    resolve?.();
  }

  #wake(): void {
    for (const resolve of this.#waiters.splice(0)) resolve();
  }
}
