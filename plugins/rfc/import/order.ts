import { lintRfc } from "../lint.ts";
import type { PlannedDocument } from "./plan.ts";

/**
 * Orders planned documents into commit groups so that each block's references
 * (`requires`, `obsoletes`, `updates`, `superseded-by`) point at RFCs already
 * in the ledger or in the same block: strongly connected components of the
 * reference graph (Tarjan), dependencies first. Documents that refer to each
 * other in a cycle land together in one block.
 */
export function commitGroups(documents: readonly PlannedDocument[]): PlannedDocument[][] {
  const byNumber = new Map(documents.map((d) => [d.rfc, d]));
  const deps = new Map<number, number[]>();
  for (const doc of documents) {
    const { fields } = lintRfc({ file: doc.path, content: doc.content, checkFileName: false });
    const refs = [
      ...(fields.requires ?? []),
      ...(fields.obsoletes ?? []),
      ...(fields.updates ?? []),
      ...(fields["superseded-by"] === undefined ? [] : [fields["superseded-by"]]),
    ];
    deps.set(
      doc.rfc,
      [...new Set(refs)].filter((n) => n !== doc.rfc && byNumber.has(n)),
    );
  }
  // Iterative Tarjan: components come out dependencies-first.
  const index = new Map<number, number>();
  const low = new Map<number, number>();
  const onStack = new Set<number>();
  const stack: number[] = [];
  const groups: PlannedDocument[][] = [];
  let counter = 0;
  for (const start of [...byNumber.keys()].sort((a, b) => a - b)) {
    if (index.has(start)) continue;
    const work: [number, number][] = [[start, 0]];
    while (work.length > 0) {
      const frame = work[work.length - 1]!;
      const [v, i] = frame;
      if (i === 0) {
        index.set(v, counter);
        low.set(v, counter++);
        stack.push(v);
        onStack.add(v);
      }
      const edges = deps.get(v) ?? [];
      if (i < edges.length) {
        frame[1] = i + 1;
        const w = edges[i]!;
        if (!index.has(w)) work.push([w, 0]);
        else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent[0], Math.min(low.get(parent[0])!, low.get(v)!));
      if (low.get(v) === index.get(v)) {
        const group: PlannedDocument[] = [];
        let w: number;
        do {
          w = stack.pop()!;
          onStack.delete(w);
          group.push(byNumber.get(w)!);
        } while (w !== v);
        groups.push(group.sort((a, b) => a.rfc - b.rfc));
      }
    }
  }
  return groups;
}
