/**
 * `npm run bench -- ledger [blocks]`: builds a ledger of N signed blocks
 * (default 10,000) and reports, in one run:
 *   - append rate (blocks/s) through Ledger.commit (build, sign, verify, land);
 *   - the one-off packing of the loose objects when the ledger is reopened;
 *   - full verification rate (blocks/s) of the whole history from genesis;
 *   - the raw `crypto.verify` rate over the very same signatures (baseline).
 */
import { verify as cryptoVerify } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseCommit } from "../ledger/commit.ts";
import { Ledger } from "../ledger/ledger.ts";
import { SignaturePool } from "../ledger/signature-pool.ts";
import { generateKey } from "../ledger/sshkey.ts";
import { parseSshsig, signedData } from "../ledger/sshsig.ts";
import { Verifier } from "../ledger/verify.ts";

const count = Number(process.argv[2] ?? 10_000);
const dir = mkdtempSync(join(tmpdir(), "gdo-bench-ledger-"));
const encoder = new TextEncoder();
try {
  const alice = generateKey("alice");
  const door = generateKey("door-1");
  const { ledger } = await Ledger.create({
    gitdir: join(dir, "l.git"),
    key: alice,
    founder: "alice",
    name: "bench",
    durable: false,
  });
  await ledger.commit({
    key: alice,
    message: "Add door-1",
    edits: [
      {
        path: "charter/members/door-1.yaml",
        content: encoder.encode(
          `name: door-1\nkey: ${door.publicKey.keyText}\nroles: [device]\nadded: 2026-11-25\n`,
        ),
      },
    ],
  });
  let started = performance.now();
  for (let i = 2; i < count; i++) {
    const day = String(1 + (i % 28)).padStart(2, "0");
    await ledger.commit({
      key: door,
      message: `swipe ${i}`,
      edits: [
        {
          path: `logs/door-1/2026-11-${day}.log`,
          content: encoder.encode(`badge ${i % 97} allowed at swipe ${i}\n`),
        },
      ],
    });
  }
  const appendSeconds = (performance.now() - started) / 1000;
  const head = await ledger.requireHead();

  // Opening packs the loose objects the appends left (once, as `git gc --auto`).
  started = performance.now();
  const reopened = await Ledger.open({ gitdir: join(dir, "l.git") });
  const packSeconds = (performance.now() - started) / 1000;
  // Full verification from genesis with a fresh reader: nothing cached.
  started = performance.now();
  const pool = new SignaturePool();
  const verified = await new Verifier({ objects: reopened.repo, pool }).verify(head);
  const verifySeconds = (performance.now() - started) / 1000;
  await pool.close();
  started = performance.now();
  await new Verifier({ objects: reopened.repo }).verify(head);
  const singleThreadSeconds = (performance.now() - started) / 1000;
  if (verified.generation !== count)
    throw new Error(`expected ${count} blocks, verified ${verified.generation}`);

  // Baseline: crypto.verify alone over the same signed data.
  const inputs: { data: Uint8Array; key: import("node:crypto").KeyObject; sig: Uint8Array }[] = [];
  let oid: string | undefined = head;
  while (oid) {
    const commit = parseCommit(oid, (await reopened.repo.readObject(oid)).content);
    const sig = parseSshsig(commit.signature!);
    inputs.push({
      data: signedData(commit.payload, "git", sig.hashAlgorithm),
      key: sig.publicKey.keyObject,
      sig: sig.signature,
    });
    oid = commit.parents[0];
  }
  started = performance.now();
  for (const input of inputs)
    if (!cryptoVerify(null, input.data, input.key, input.sig)) throw new Error("bad");
  const rawSeconds = (performance.now() - started) / 1000;

  const rate = (n: number, s: number) => `${Math.round(n / s).toLocaleString("en")} blocks/s`;
  console.log(`ledger benchmark, ${count.toLocaleString("en")} blocks, node ${process.version}`);
  console.log(
    `append (build+sign+verify+land): ${appendSeconds.toFixed(2)} s  ${rate(count - 2, appendSeconds)}`,
  );
  console.log(`open, packing loose objects:     ${packSeconds.toFixed(2)} s  (once)`);
  console.log(
    `full verify from genesis:        ${verifySeconds.toFixed(2)} s  ${rate(count, verifySeconds)}`,
  );
  console.log(
    `  (same, one thread, no pool):   ${singleThreadSeconds.toFixed(2)} s  ${rate(count, singleThreadSeconds)}`,
  );
  console.log(
    `raw crypto.verify (baseline):    ${rawSeconds.toFixed(2)} s  ${rate(inputs.length, rawSeconds)}`,
  );
  console.log(
    `ratio full verify / raw verify:  ${(rawSeconds / verifySeconds).toFixed(2)}x (target >= 0.5x)`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
