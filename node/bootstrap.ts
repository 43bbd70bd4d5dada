import { hostname } from "node:os";
import { NotFoundError } from "../ledger/errors.ts";
import { readKeyFile, writeKeyFile } from "../ledger/keyfile.ts";
import { Ledger, MAIN } from "../ledger/ledger.ts";
import { MissingObjectError } from "../ledger/repository.ts";
import { generateKey, type SshPrivateKey } from "../ledger/sshkey.ts";
import type { FileEdit } from "../ledger/tree-builder.ts";
import type { ChangeValidator } from "../ledger/validator.ts";
import type { VerifiedBlock } from "../ledger/verify.ts";

export interface BootstrapInput {
  keyPath: string;
  ledgerPath: string;
  /** The genesis archive, read only when a new ledger is made. */
  genesisFiles: () => Promise<FileEdit[]>;
  founder: string;
  organisation: string;
  log: (line: string) => void;
  /**
   * Join an existing ledger from peers instead of creating one when none is
   * on disk (the node has bootstrap peers configured): the ledger is then
   * fetched and verified by the sync, not made here.
   */
  join?: boolean;
  /** Content validators (the plugins'), applied to the genesis and every later block. */
  validate?: ChangeValidator;
  /**
   * Verifies a block with its history. Default: a verifier of its own. The
   * daemon passes its replica's, so the history checked here is not checked
   * again at the first sync.
   */
  verify?: (opened: { ledger: Ledger; key: SshPrivateKey }, oid: string) => Promise<VerifiedBlock>;
}

export interface NodeState {
  key: SshPrivateKey;
  /** Undefined while joining: no ledger on disk yet. */
  ledger: Ledger | undefined;
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
    input.log(
      `key       created a development key ${input.keyPath} (${key.publicKey.fingerprint})`,
    );
  }
  let ledger: Ledger;
  let createdLedger = false;
  try {
    ledger = await Ledger.open({ gitdir: input.ledgerPath, validate: input.validate });
    if (input.join && !(await ledger.head())) {
      input.log(`ledger    ${input.ledgerPath} has no main yet: joining from the configured peers`);
      return { key, ledger: undefined, createdKey, createdLedger: false };
    }
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
    if (input.join) {
      input.log(
        `ledger    none at ${input.ledgerPath}: joining from the configured peers (this key: ${key.publicKey.keyText})`,
      );
      return { key, ledger: undefined, createdKey, createdLedger: false };
    }
    const files = await input.genesisFiles();
    const created = await Ledger.create({
      gitdir: input.ledgerPath,
      key,
      founder: input.founder,
      name: input.organisation,
      files,
      validate: input.validate,
    });
    ledger = created.ledger;
    createdLedger = true;
    input.log(
      `ledger    created ${input.ledgerPath}: genesis ${created.genesis} with ${files.length} archive file(s), founder '${input.founder}'`,
    );
  }
  let verify = input.verify;
  if (!verify) {
    const verifier = ledger.newVerifier();
    verify = (_, oid) => verifier.verify(oid);
  }
  const refs = await ledger.repo.listRefs("refs/");
  let blocks = 0;
  for (const [ref, oid] of refs) {
    let block: VerifiedBlock;
    try {
      block = await verify({ ledger, key }, oid);
    } catch (error) {
      // A ref naming a block the repository lacks: say which ref, in which ledger.
      if (error instanceof MissingObjectError && error.data.oid === oid) {
        throw new MissingObjectError(
          oid,
          `${ref} in ${input.ledgerPath} points to it: the ledger is damaged: restore it from a backup, or move it aside and let the node join again from a peer (bootstrap in config.json)`,
        );
      }
      throw error;
    }
    blocks = Math.max(blocks, block.generation);
  }
  // Main's charter from the verification just done (memoised), not the
  // ledger's own verifier, which would verify the whole history again.
  const charter = (await verify({ ledger, key }, await ledger.requireHead(MAIN))).charter;
  const me = charter.memberByKey(key.publicKey);
  input.log(
    `ledger    ${input.ledgerPath}: '${charter.name}' (${charter.id}), ${refs.size} branch(es), main ${await ledger.head()} (${blocks} blocks deep), all verified`,
  );
  input.log(
    `members   ${[...charter.members.values()].filter((m) => !m.revoked).length} active; this node is ${me ? `'${me.name}'${me.revoked ? " (revoked)" : ""}` : "not a member"}`,
  );
  return { key, ledger, createdKey, createdLedger };
}
