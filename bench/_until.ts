/**
 * Resolves once `check` holds, asking every `everyMs`; fails with `what`
 * after `timeoutMs`. A check that throws ends the wait with its error.
 */
export async function until(
  check: () => boolean,
  { timeoutMs, everyMs, what }: { timeoutMs: number; everyMs: number; what: string },
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: timed out after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
