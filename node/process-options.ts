import { fileURLToPath } from "node:url";

/**
 * How a node process is started: `npm run node` passes these, and so do the
 * node tests and the benches, so they measure what users run. A node started
 * another way (a systemd unit, `gdo node` by hand) should pass them too; the
 * README says so.
 *
 * `--max-semi-space-size=8` (MiB): V8 sizes the young generation by the
 * machine's memory (64 MiB semi-spaces, 128 MiB committed, on a 24 GB
 * machine) and keeps it committed once grown. A node grows it in the burst
 * of verifying its history at start-up, then idles. With 8 MiB the idle
 * node on a 10,000-block ledger held about 100 MB less, and start-up took no
 * longer (RFC 7).
 *
 * `--external-memory-accounted-in-global-limit`: by default V8 starts a full
 * collection each time 64 MiB of new `ArrayBuffer` memory has been allocated
 * since the last one, whatever the heap holds. Moving 256 MiB of chunks
 * allocates about a gigabyte of such buffers on each side (the transport's
 * encryption, our frames), so both nodes spent 0.7–1.0 s collecting a small
 * heap over and over. With the flag that memory counts within the heap's
 * global limit instead: the sender's collector time fell from 0.7–1.0 s to
 * 0.15–0.44 s and blob transfer rose by about a fifth in interleaved runs;
 * idle memory unchanged (RFC 7). It is a V8 flag, not a Node
 * option: the pinned Node (24.21) has it; Node refuses to start on a flag its
 * V8 lacks, so a runtime upgrade that drops it fails loudly, not silently.
 */
const NODE_V8_FLAGS = ["--max-semi-space-size=8", "--external-memory-accounted-in-global-limit"];

/**
 * `--import …/type-cache-hooks.mjs`: the project's modules are loaded with
 * their types stripped ahead of time, so the process never loads Node's type
 * stripper, 16 MB of RSS in each thread that does (`type-cache.mjs`).
 */
const TYPE_CACHE_HOOKS = "node/type-cache-hooks.mjs";

/** Every flag a node process is started with; the preload's path absolute, or relative to the project root. */
export function nodeFlags({ relative = false }: { relative?: boolean } = {}): string[] {
  const hooks = relative
    ? `./${TYPE_CACHE_HOOKS}`
    : fileURLToPath(new URL(`../${TYPE_CACHE_HOOKS}`, import.meta.url));
  return ["--import", hooks, ...NODE_V8_FLAGS];
}

/**
 * `MALLOC_ARENA_MAX=2`: glibc gives each thread that allocates its own
 * malloc arena (up to 8 per core), and an arena keeps what it grew to. A
 * node's threads (libuv's pool, V8's helpers, the verification workers)
 * each grow one during start-up verification; with two arenas shared by all,
 * the idle node on a 10,000-block ledger held 25 MB less (RFC 7).
 *
 * `GLIBC_TUNABLES=glibc.malloc.hugetlb=1`: glibc asks for transparent huge
 * pages for its heap (where the kernel gives them on request, as Debian's
 * does). A transfer allocates a new buffer for every frame batch and every
 * encrypted message; as collections free them glibc gives the heap's top
 * back to the system, and the next allocations fault it in again a 4 KiB
 * page at a time: 33,000–41,000 faults per 256 MiB on the sending node,
 * several microseconds each on a VM. In 2 MiB pages that is 3,400–5,200,
 * and the sending node's CPU for a 256 MiB blob fell from 1.0–1.2 s to
 * 0.55–0.6 s (RFC 7).
 *
 * Other C libraries, and glibc before 2.35, ignore both.
 */
export const NODE_ENV: Record<string, string> = {
  MALLOC_ARENA_MAX: "2",
  GLIBC_TUNABLES: "glibc.malloc.hugetlb=1",
};

/** The `npm run node` command line these make (the unit test checks package.json against it). */
export function nodeCommandLine(args: string[]): string {
  const env = Object.entries(NODE_ENV).map(([k, v]) => `${k}=${v}`);
  return [...env, "node", ...nodeFlags({ relative: true }), ...args].join(" ");
}
