/**
 * The V8 flags a node process runs with: `npm run node` passes them, and so
 * do the node tests and the sync bench, so they measure what users run.
 *
 * `--max-semi-space-size=8` (MiB): V8 sizes the young generation by the
 * machine's memory (64 MiB semi-spaces, 128 MiB committed, on a 24 GB
 * machine) and keeps it committed once grown. A node grows it in the burst
 * of verifying its history at start-up, then idles. With 8 MiB the idle
 * node on a 10,000-block ledger held about 100 MB less, and start-up took no
 * longer (RFC 7).
 */
export const NODE_V8_FLAGS = ["--max-semi-space-size=8"];
