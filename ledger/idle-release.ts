/**
 * Lets go of a cache once it has gone unused for `idleMs`. Caches that serve
 * bursts (a start-up verifying the history, a sync) should not be held by an
 * idle node until the next. One timer per cache, armed on first use and
 * re-armed while uses keep coming; it never keeps a process alive.
 */
export class IdleRelease {
  readonly #idleMs: number;
  readonly #release: () => void;
  #lastUse = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(idleMs: number, release: () => void) {
    this.#idleMs = idleMs;
    this.#release = release;
  }

  /** Marks the cache as just used. */
  touch(): void {
    this.#lastUse = Date.now();
    this.#timer ??= this.#arm();
  }

  /** Stops the timer (the cache is being closed). */
  cancel(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.#timer = undefined;
      if (Date.now() - this.#lastUse < this.#idleMs) this.#timer = this.#arm();
      else this.#release();
    }, this.#idleMs);
    timer.unref();
    return timer;
  }
}
