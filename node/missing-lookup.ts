/**
 * Which of a fetch's wanted chunks the store lacks, looked up a slice at a
 * time, so that the first requests go out while the rest are looked up: a
 * large blob's 7,000 chunks took 10-30 ms to look up, with both nodes idle
 * until the first request.
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
}

export class MissingLookup<T extends WantedChunk> {
  /**
   * Bytes not yet asked for: chunks found missing and not taken, and chunks
   * not yet looked up (counted as missing until they are). The fetch
   * subtracts what it takes and adds back what is to be asked for again.
   */
  unrequestedBytes = 0;
  /** Every slice is looked up (or the lookup failed: `done` says why). */
  finished = false;
  /** Settles once every slice is looked up; rejects with the lookup's error. */
  readonly done: Promise<void>;
  /** Chunks found missing so far. */
  foundCount = 0;
  #waiters: (() => void)[] = [];

  constructor(init: MissingLookupInit<T>) {
    for (const w of init.wanted) this.unrequestedBytes += w.length;
    this.done = this.#run(init);
    // Awaited by the fetch at its end; a failure before then must not be an unhandled rejection.
    this.done.catch(() => {});
  }

  /** Resolves once the next slice is looked up (at once if all are). */
  next(): Promise<void> {
    if (this.finished) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  async #run({ wanted, missing, found, firstSlice = 1024, slice = 4096 }: MissingLookupInit<T>) {
    try {
      for (let at = 0; at < wanted.length; ) {
        const part = wanted.slice(at, at + (at === 0 ? firstSlice : slice));
        at += part.length;
        const absent = new Set(await missing(part.map((w) => w.id)));
        for (const w of part) {
          if (absent.has(w.id)) {
            this.foundCount++;
            found(w);
          } else {
            this.unrequestedBytes -= w.length;
          }
        }
        this.#wake();
      }
    } finally {
      this.finished = true;
      this.#wake();
    }
  }

  #wake(): void {
    for (const resolve of this.#waiters.splice(0)) resolve();
  }
}
