import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it, mock } from "node:test";
import { IdleRelease } from "../../ledger/idle-release.ts";

/** An IdleRelease that counts its releases, used once. */
function counted(idleMs: number): { idle: IdleRelease; released: () => number } {
  let count = 0;
  const idle = new IdleRelease(idleMs, () => count++);
  idle.touch();
  return { idle, released: () => count };
}

/** Advances the mocked clock in steps of 100 ms, so each timer sees the time it fires at. */
function advance(ms: number): void {
  for (let left = ms; left > 0; left -= 100) mock.timers.tick(Math.min(100, left));
}

describe("idle release", () => {
  beforeEach(() => mock.timers.enable({ apis: ["setTimeout", "Date"], now: 1_000_000 }));
  afterEach(() => mock.timers.reset());

  it("should let go once unused for the idle time, and not before", () => {
    const { released } = counted(10_000);
    advance(9_900);
    assert.equal(released(), 0, "still within the idle time");
    advance(100);
    assert.equal(released(), 1, "released once the idle time has passed");
    advance(60_000);
    assert.equal(released(), 1, "not again without a use");
  });

  it("should hold on while uses keep coming, counting from the last", () => {
    const { idle, released } = counted(10_000);
    for (let k = 0; k < 5; k++) {
      advance(6_000);
      idle.touch();
    }
    advance(9_900);
    assert.equal(
      released(),
      0,
      "used 6 s apart, then less than the idle time since the last use: kept",
    );
    advance(10_100);
    assert.equal(released(), 1, "released within twice the idle time after the last use");
  });

  it("should release again after a new use, and never once cancelled", () => {
    const { idle, released } = counted(1_000);
    advance(1_000);
    idle.touch();
    advance(1_000);
    assert.equal(released(), 2);
    idle.touch();
    idle.cancel();
    advance(10_000);
    assert.equal(released(), 2, "cancelled: the cache is being closed");
  });
});
