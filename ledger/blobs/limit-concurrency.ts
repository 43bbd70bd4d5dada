/**
 * Runs at most `n` of the given tasks at once (the rest queue in order), so a
 * put keeps a bounded number of files open and writes in flight. A finishing
 * task hands its slot straight to the next queued one, so the bound is exact.
 */
export function limitConcurrency(n: number): <T>(task: () => Promise<T>) => Promise<T> {
  let active = 0;
  const queue: (() => void)[] = [];
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (active >= n) await new Promise<void>((resolve) => queue.push(resolve));
    else active++;
    try {
      return await task();
    } finally {
      const next = queue.shift();
      if (next) next();
      else active--;
    }
  };
}
