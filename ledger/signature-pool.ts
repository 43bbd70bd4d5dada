import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";

/** One signature check: the bytes Ed25519 signed (SSHSIG's signed data), the raw key and signature. */
export interface SignatureJob {
  signedData: Uint8Array;
  key: Uint8Array;
  signature: Uint8Array;
}

interface Pending {
  resolve: (results: boolean[]) => void;
  reject: (error: Error) => void;
}

/**
 * Ed25519 checks dominate full-ledger verification. The pool spreads them over
 * worker threads while the verifier's own thread reads and judges objects, so
 * the two overlap instead of adding up. Workers are unref'd while idle and
 * never keep a process alive.
 */
export class SignaturePool {
  readonly #workers: Worker[] = [];
  readonly #pending = new Map<number, Pending>();
  #seq = 0;
  #next = 0;
  #failed: Error | undefined;

  constructor({ size = Math.max(1, availableParallelism()) }: { size?: number } = {}) {
    for (let i = 0; i < size; i++) {
      const worker = new Worker(new URL("./signature-worker.ts", import.meta.url));
      worker.unref();
      worker.on("message", (reply: { seq: number; results: boolean[] }) => {
        const pending = this.#pending.get(reply.seq);
        this.#pending.delete(reply.seq);
        if (this.#pending.size === 0) for (const w of this.#workers) w.unref();
        pending?.resolve(reply.results);
      });
      worker.on("error", (error) => this.#fail(error));
      worker.on("exit", (code) => {
        if (code !== 0) this.#fail(new Error(`signature worker exited with ${code}`));
      });
      this.#workers.push(worker);
    }
  }

  #fail(error: Error) {
    this.#failed = error;
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
  }

  /** Checks a batch on the next worker; resolves to one boolean per job. */
  check(jobs: SignatureJob[]): Promise<boolean[]> {
    if (this.#failed) return Promise.reject(this.#failed);
    const seq = this.#seq++;
    const worker = this.#workers[this.#next++ % this.#workers.length]!;
    return new Promise((resolve, reject) => {
      if (this.#pending.size === 0) for (const w of this.#workers) w.ref();
      this.#pending.set(seq, { resolve, reject });
      worker.postMessage({ seq, jobs });
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }
}
