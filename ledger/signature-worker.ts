/**
 * Worker side of the signature pool: checks batches of SSHSIG signatures.
 * Only the pure Ed25519 check runs here; parsing and every encoding check
 * stay on the caller's thread (sshsig.ts), so both paths accept the same set.
 */
import { createPublicKey, type KeyObject, verify } from "node:crypto";
import { parentPort } from "node:worker_threads";
import type { SignatureJob } from "./signature-pool.ts";

const keys = new Map<string, KeyObject>();
const SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

function keyFor(raw: Uint8Array): KeyObject {
  const id = Buffer.from(raw).toString("base64");
  let key = keys.get(id);
  if (!key) {
    key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: "der", type: "spki" });
    keys.set(id, key);
  }
  return key;
}

parentPort!.on("message", (message: { seq: number; jobs: SignatureJob[] }) => {
  const results = message.jobs.map((job) => {
    try {
      return verify(null, job.signedData, keyFor(job.key), job.signature);
    } catch {
      return false;
    }
  });
  parentPort!.postMessage({ seq: message.seq, results });
});
