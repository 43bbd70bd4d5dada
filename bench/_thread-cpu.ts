/**
 * This process's CPU time by kind of thread (Linux: from `/proc/self/task`),
 * so a bench can say where a phase's CPU went: the JS main thread, V8's
 * helpers (mostly garbage collection), libuv's file-system pool, or worker
 * threads (hashing, signatures).
 */
import { readdirSync, readFileSync } from "node:fs";

export interface ThreadCpu {
  main: number;
  /** V8's helper threads: concurrent marking and sweeping, background compiling. */
  v8: number;
  fs: number;
  workers: number;
  other: number;
}

const CLOCK_TICKS = 100;

/** Seconds of CPU (user + system) per kind of thread so far; undefined where `/proc` is not there. */
export function threadCpu(): ThreadCpu | undefined {
  let tasks: string[];
  try {
    tasks = readdirSync("/proc/self/task");
  } catch {
    return undefined;
  }
  const total: ThreadCpu = { main: 0, v8: 0, fs: 0, workers: 0, other: 0 };
  for (const task of tasks) {
    let stat: string;
    let name: string;
    try {
      stat = readFileSync(`/proc/self/task/${task}/stat`, "utf8");
      name = readFileSync(`/proc/self/task/${task}/comm`, "utf8").trim();
    } catch {
      continue; // the thread ended meanwhile
    }
    // Fields after the command name (which may hold spaces): utime is the 12th, stime the 13th.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const seconds = (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
    total[kindOf(name, task === String(process.pid))] += seconds;
  }
  return total;
}

function kindOf(name: string, isMain: boolean): keyof ThreadCpu {
  if (isMain) return "main";
  if (name.startsWith("V8Worker")) return "v8";
  if (name.startsWith("libuv-worker")) return "fs";
  if (name.startsWith("WorkerThread")) return "workers";
  return "other";
}

/** CPU time by kind of thread since `before`. */
export function threadCpuSince(before: ThreadCpu | undefined): ThreadCpu | undefined {
  return threadCpuDelta(before, threadCpu());
}

/** `after` minus `before`, kind by kind. */
export function threadCpuDelta(
  before: ThreadCpu | undefined,
  after: ThreadCpu | undefined,
): ThreadCpu | undefined {
  if (!before || !after) return undefined;
  const out = { ...after };
  for (const key of Object.keys(out) as (keyof ThreadCpu)[]) out[key] -= before[key];
  return out;
}

/** "main 1.20, v8 0.40, fs 0.10, workers 0.30" (kinds with under 0.01 s left out). */
export function formatThreadCpu(cpu: ThreadCpu | undefined): string {
  if (!cpu) return "";
  return Object.entries(cpu)
    .filter(([, seconds]) => seconds >= 0.01)
    .map(([kind, seconds]) => `${kind} ${seconds.toFixed(2)}`)
    .join(", ");
}
