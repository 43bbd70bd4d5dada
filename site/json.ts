import type { RfcEntry } from "./archive.ts";

/** The public JSON shape of an RFC (the `/api/rfcs.json` entry). Decisions are summarised. */
export function rfcJson(rfc: RfcEntry, base: string) {
  const n = (l: { number: number }) => l.number;
  return {
    number: rfc.number,
    title: rfc.title,
    status: rfc.status,
    ...(rfc.category ? { category: rfc.category } : {}),
    authors: rfc.authors,
    ...(rfc.created ? { created: rfc.created } : {}),
    ...(rfc.updated ? { updated: rfc.updated } : {}),
    ...(rfc.discussion ? { discussion: rfc.discussion } : {}),
    requires: rfc.requires.map(n),
    obsoletes: rfc.obsoletes.map(n),
    updates: rfc.updates.map(n),
    ...(rfc.supersededBy ? { "superseded-by": rfc.supersededBy.number } : {}),
    "referenced-by": rfc.referencedBy.map(n),
    path: rfc.path,
    url: `${base.endsWith("/") ? base : `${base}/`}rfcs/${rfc.number}/`,
    decisions: rfc.decisions.map((d) => ({
      block: d.block,
      signer: d.signer,
      timestamp: d.timestamp,
      ...(d.from ? { from: d.from } : {}),
      to: d.to,
      approvals: d.approvals.length,
    })),
  };
}
