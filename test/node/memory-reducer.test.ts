import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { describe, it } from "node:test";

const moduleUrl = new URL("../../node/memory-reducer.ts", import.meta.url).href;

/**
 * Runs a process that allocates a burst of garbage and then idles, and
 * returns V8's memory-reducer decisions up to its first memory-reducing
 * collection (or `limitMs`).
 */
async function reducerDecisions({ nudge, limitMs }: { nudge: boolean; limitMs: number }) {
  const script = `
    const { startMemoryReducerNudge } = await import(${JSON.stringify(moduleUrl)});
    if (${nudge}) startMemoryReducerNudge();
    // Objects that survive a few scavenges reach the old generation, as a
    // node's start-up verification does; then all of them become garbage.
    let held = [];
    for (let round = 0; round < 60; round++) {
      const batch = [];
      for (let j = 0; j < 20000; j++) batch.push({ round, j, name: "block-" + round + "-" + j });
      held.push(batch);
      if (held.length > 20) held.shift();
    }
    held = undefined;
    setInterval(() => {}, 1000);
  `;
  const child = spawn(
    process.execPath,
    ["--trace-memory-reducer", "--input-type=module", "-e", script],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const decisions: string[] = [];
  const timer = setTimeout(() => child.kill(), limitMs);
  try {
    for await (const line of createInterface({ input: child.stdout })) {
      const decision = /Memory reducer: (.*)$/.exec(line)?.[1];
      if (!decision) continue;
      decisions.push(decision);
      if (decision.startsWith("started GC")) break;
    }
  } finally {
    clearTimeout(timer);
    child.kill();
  }
  return decisions;
}

describe("the memory reducer nudge", () => {
  it("should let V8's memory reducer collect an idle process's garbage because the allocation rate is low, not by its watchdog", async () => {
    // The watchdog would act 100 s after the last major collection; the
    // low-rate path acts within a few 8 s checks. Without the nudge, Node 24
    // reports "high alloc" on every check (nodejs/node#66564).
    const decisions = await reducerDecisions({ nudge: true, limitMs: 90_000 });
    const started = decisions.findIndex((d) => d.startsWith("started GC"));
    assert.ok(started >= 0, `no memory-reducing collection; decisions: ${decisions.join(" | ")}`);
    assert.ok(
      decisions.slice(0, started).some((d) => d.startsWith("low alloc")),
      `the collection was not started for a low allocation rate; decisions: ${decisions.join(" | ")}`,
    );
  });
});
