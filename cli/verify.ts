import { GdoError } from "../ledger/errors.ts";
import { SignaturePool } from "../ledger/signature-pool.ts";
import { assertLandable } from "../ledger/verify.ts";
import type { Command } from "./command.ts";
import { openLedger } from "./workspace.ts";

export const verifyCommand: Command = {
  name: "verify",
  summary: "re-verify every block of every branch from the genesis; exit 1 if any is invalid",
  usage: "verify",
  async run(ctx) {
    const ledger = await openLedger(ctx);
    const refs = await ledger.repo.listRefs("refs/");
    // One fresh verifier for all branches: shared history is checked once,
    // with the signature checks spread over worker threads.
    const pool = new SignaturePool();
    ctx.defer(() => pool.close());
    const verifier = ledger.newVerifier({ pool });
    let failures = 0;
    const started = performance.now();
    for (const [ref, oid] of [...refs].sort()) {
      try {
        const head = await verifier.verify(oid);
        assertLandable(ref, head);
        ctx.out(`ok       ${ref} ${oid} (${head.generation} blocks deep)\n`);
      } catch (error) {
        if (!(error instanceof GdoError)) throw error;
        failures++;
        ctx.out(`INVALID  ${ref} ${oid}\n         ${error.message} [${error.code}]\n`);
      }
    }
    const seconds = (performance.now() - started) / 1000;
    ctx.out(
      `${refs.size} branch(es) checked in ${seconds.toFixed(2)} s; ${failures === 0 ? "all valid" : `${failures} invalid`}\n`,
    );
    return failures === 0 ? 0 : 1;
  },
};
