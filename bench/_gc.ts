/**
 * This process's garbage collections so far, by kind (a `PerformanceObserver`
 * on "gc" entries), so a bench can say how many collections a phase took: a
 * major one marks the whole heap on V8's helper threads.
 */
import { constants, PerformanceObserver } from "node:perf_hooks";

/** Collections by kind: how many, and their pauses in ms. */
export interface GcCount {
  major: number;
  majorMs: number;
  minor: number;
  minorMs: number;
}

let counted: GcCount | undefined;

/** The collections since the first call (which starts counting). */
export function gcCounts(): GcCount {
  if (!counted) {
    const count: GcCount = { major: 0, majorMs: 0, minor: 0, minorMs: 0 };
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        const kind = (entry as { detail?: { kind?: number } }).detail?.kind;
        if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) {
          count.major++;
          count.majorMs += entry.duration;
        } else if (kind === constants.NODE_PERFORMANCE_GC_MINOR) {
          count.minor++;
          count.minorMs += entry.duration;
        }
      }
    }).observe({ entryTypes: ["gc"] });
    counted = count;
  }
  return { ...counted };
}

/** The collections between two counts. */
export function gcDelta(before: GcCount, now: GcCount): GcCount {
  return {
    major: now.major - before.major,
    majorMs: now.majorMs - before.majorMs,
    minor: now.minor - before.minor,
    minorMs: now.minorMs - before.minorMs,
  };
}

export function formatGc({ major, majorMs, minor, minorMs }: GcCount): string {
  return `${major} major (${majorMs.toFixed(0)} ms), ${minor} minor (${minorMs.toFixed(0)} ms)`;
}
