import { hostname } from "node:os";
import { NotFoundError } from "../ledger/errors.ts";
import { readKeyFile, writeKeyFile } from "../ledger/keyfile.ts";
import { Ledger } from "../ledger/ledger.ts";
import { generateKey, type SshPrivateKey } from "../ledger/sshkey.ts";
import type { FileEdit } from "../ledger/tree-builder.ts";

export interface BootstrapInput {
  keyPath: string;
  ledgerPath: string;
  /** The genesis archive, read only when a new ledger is made. */
  genesisFiles: () => Promise<FileEdit[]>;
  founder: string;
  organisation: string;
  log: (line: string) => void;
}

export interface NodeState {
  key: SshPrivateKey;
  ledger: Ledger;
  createdKey: boolean;
  createdLedger: boolean;
}

/**
 * What `npm run node` does before it joins anyone: a dev key on first run,
 * the ledger opened (or created with the genesis archive), and the whole
 * history verified, so a node never serves a ledger it has not checked.
 */
export async function bootstrapNode(input: BootstrapInput): Promise<NodeState> {
  let key: SshPrivateKey;
  let createdKey = false;
  try {
    key = await readKeyFile(input.keyPath);
    input.log(`key       ${input.keyPath} (${key.publicKey.fingerprint})`);
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
    key = generateKey(`gdo-dev@${hostname()}`);
    await writeKeyFile({ path: input.keyPath, key });
    createdKey = true;
    input.log(`key       created a development key ${input.keyPath} (${key.publicKey.fingerprint})`);
  }
  let ledger: Ledger;
  let createdLedger = false;
  try {
    ledger = await Ledger.open({ gitdir: input.ledgerPath });
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
    const files = await input.genesisFiles();
    const created = await Ledger.create({
      gitdir: input.ledgerPath,
      key,
      founder: input.founder,
      name: input.organisation,
      files,
    });
    ledger = created.ledger;
    createdLedger = true;
    input.log(`ledger    created ${input.ledgerPath}: genesis ${created.genesis} with ${files.length} archive file(s), founder '${input.founder}'`);
  }
  const verifier = ledger.newVerifier();
  const refs = await ledger.repo.listRefs("refs/");
  let blocks = 0;
  for (const oid of refs.values()) blocks = Math.max(blocks, (await verifier.verify(oid)).generation);
  const charter = await ledger.charter();
  const me = charter.memberByKey(key.publicKey);
  input.log(`ledger    ${input.ledgerPath}: '${charter.name}' (${charter.id}), ${refs.size} branch(es), main ${await ledger.head()} (${blocks} blocks deep), all verified`);
  input.log(`members   ${[...charter.members.values()].filter((m) => !m.revoked).length} active; this node is ${me ? `'${me.name}'${me.revoked ? " (revoked)" : ""}` : "not a member"}`);
  return { key, ledger, createdKey, createdLedger };
}
