import type { Change } from "./tree-diff.ts";
import type { TreeReader } from "./tree-reader.ts";

/** Read access to one tree, as plugin validators see it (same shape as plugins/api.ts). */
export interface TreeView {
  read(path: string): Promise<Uint8Array | undefined>;
  list(prefix: string): Promise<string[]>;
}

export interface ValidationProblem {
  file: string;
  line?: number;
  column?: number;
  ruleId: string;
  reason: string;
}

export interface ValidationVerdict {
  /** Any problem refuses the block. */
  problems: ValidationProblem[];
  /** Approval requirements beyond the path policy (e.g. `status-change`), mapped by the charter's policy. */
  requirements: { kind: string; path: string }[];
  /** Names of the validators that judged the change (recorded by a proof of merge). */
  validators?: string[];
}

/**
 * The content checks above the core (plugin validators), injected by whoever
 * composes the ledger: the core knows no plugin. Must be deterministic.
 */
export type ChangeValidator = (input: {
  before: TreeView;
  after: TreeView;
  changes: readonly Pick<Change, "path" | "kind">[];
  /** The ledger's first block: its archive is taken as found. */
  genesis?: boolean;
}) => Promise<ValidationVerdict>;

export function treeView(reader: TreeReader, tree: string | undefined): TreeView {
  return {
    read: async (path) => (tree ? reader.readFile(tree, path) : undefined),
    list: async (prefix) =>
      tree ? (await reader.listFiles(tree, prefix.replace(/\/$/, ""))).map((f) => f.path) : [],
  };
}
