/**
 * A small real ledger for the site tests: a dozen RFCs with relations and text
 * mentions, status changes signed by two members, an attachment (PNG), an
 * unsafe SVG, a missing attachment, hostile HTML, an open proposal and two
 * branches deciding the same RFC differently.
 */
import { join } from "node:path";
import { deflateSync } from "node:zlib";
import { openBlobStore } from "../../ledger/blobs/blob-store.ts";
import type { Ledger } from "../../ledger/ledger.ts";
import { mergeProposal, propose, review } from "../../ledger/proposal.ts";
import type { SshPrivateKey } from "../../ledger/sshkey.ts";
import { addMember, makeLedger, text } from "../helpers/ledger.ts";

export const SEARCH_TERM = "quokka";

function rfc(n: number, fields: Record<string, string>, body: string): string {
  const lines = Object.entries({ rfc: String(n), ...fields }).map(([k, v]) => `${k}: ${v}`);
  return `---\n${lines.join("\n")}\n---\n\n${body}`;
}

const pad = (n: number) => String(n).padStart(4, "0");

/** A 1×1 PNG. */
function png(): Uint8Array {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (bytes: Buffer) => {
    let c = 0xffffffff;
    for (const b of bytes) c = crcTable[(c ^ b) & 0xff]! ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const head = Buffer.alloc(4);
    head.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type), data]);
    const tail = Buffer.alloc(4);
    tail.writeUInt32BE(crc(body));
    return Buffer.concat([head, body, tail]);
  };
  const ihdr = Buffer.from([0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0]);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(Buffer.from([0, 255, 0, 0]))),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

/** The bytes of the attachment kept in the blob store (`rfcs/assets/0004/report.pdf`). */
export const REPORT = new TextEncoder().encode("%PDF-1.4\n% a tiny stand-in for a report\n");

export interface SiteFixture {
  gitdir: string;
  /** The node's data folder, whose blob store holds RFC 4's report. */
  dataDir: string;
  ledger: Ledger;
  alice: SshPrivateKey;
  bob: SshPrivateKey;
}

export async function makeSiteLedger(): Promise<SiteFixture> {
  const files: Record<string, string> = {};
  const titles = [
    "Archive basics",
    "Membership",
    "Meeting rules",
    "Budget process",
    "Tool library",
    "Door access",
    "Quiet hours",
    "Guest policy",
    "Election rules",
    "Code of conduct",
    "Storage shelves",
  ];
  titles.forEach((title, i) => {
    const n = i + 1;
    const slug = title.toLowerCase().replace(/ /g, "-");
    const extra: Record<string, string> = {};
    let body = `# ${title}\n\nThis is RFC ${n}. It describes ${title.toLowerCase()}.\n\n## Motivation\n\nWhy we need it.\n\n## Specification\n\nThe details.\n`;
    if (n === 2) {
      extra.requires = "[1]";
      body += `\nSee [the basics](./0001-archive-basics.md) for background.\n`;
    }
    if (n === 3) body += `\nAs RFC 2 says, members vote. A ${SEARCH_TERM} may attend.\n`;
    if (n === 4) {
      extra.updates = "[3]";
      body += `\n![Budget diagram](assets/0004/diagram.png)\n\n![unsafe](assets/0004/bad.svg)\n\n![missing](../assets/0004/nothere.png)\n\n[The report](assets/0004/report.pdf) and [the lost one](assets/0004/lost.pdf).\n`;
    }
    if (n === 5) {
      body += `\n<script>window.__pwned = 1</script>\n\n<img src="x.png" onerror="window.__pwned = 2">\n\n[click](javascript:window.__pwned=3)\n\n<a href="https://example.org" onclick="window.__pwned=4">external</a>\n`;
    }
    files[`rfcs/${pad(n)}-${slug}.md`] = rfc(
      n,
      {
        title,
        status: "draft",
        authors: "[alice]",
        created: "2026-11-25",
        category: n % 2 ? "Process" : "Core",
        ...extra,
      },
      body,
    );
  });
  files["rfcs/0012-open-hours.md"] = rfc(
    12,
    {
      title: "Open hours",
      status: "draft",
      authors: "[bob]",
      created: "2026-11-26",
      category: "Process",
    },
    "# Open hours\n\nWhen the space is open. Related to RFC 7.\n",
  );
  const { ledger, alice, gitdir, dir } = await makeLedger({ files });
  // One attachment in the node's blob store, one whose chunks no store here has.
  const dataDir = join(dir, "data");
  const store = await openBlobStore({ dataDir });
  const report = await store.put({ source: [REPORT] });
  await store.close();
  const elsewhere = await openBlobStore({ dataDir: join(dir, "elsewhere") });
  const lost = await elsewhere.put({ source: [text("gone")] });
  await elsewhere.close();
  await ledger.commit({
    key: alice,
    edits: [
      { path: "rfcs/assets/0004/diagram.png", content: png() },
      {
        path: "rfcs/assets/0004/bad.svg",
        content: text('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'),
      },
      { path: "rfcs/assets/0004/report.pdf.blob", content: report.bytes },
      { path: "rfcs/assets/0004/lost.pdf.blob", content: lost.bytes },
    ],
    message: "Attachments for RFC 4",
  });
  const bob = await addMember(ledger, alice, "bob", ["editor"]);
  const carol = await addMember(ledger, alice, "carol", ["editor"]);
  const names = new Map([
    [alice, "alice"],
    [bob, "bob"],
    [carol, "carol"],
  ]);
  /**
   * A status change as the charter wants it: a proposal by `key`, reviewed by
   * `reviewers` (default: the two editors who did not propose it), merged by
   * alice unless `merge` is false. Returns the proposal id.
   */
  const setStatus = async (
    key: SshPrivateKey,
    n: number,
    from: string,
    to: string,
    options: { reviewers?: SshPrivateKey[]; merge?: boolean } = {},
  ) => {
    const path = Object.keys(files).find((p) => p.startsWith(`rfcs/${pad(n)}-`))!;
    const current = new TextDecoder().decode((await ledger.readFile(path))!);
    const next = current.replace(`status: ${from}`, `status: ${to}`);
    const { proposal } = await propose(ledger, {
      key,
      edits: [{ path, content: text(next) }],
      message: `RFC ${n}: ${from} → ${to}`,
    });
    const reviewers = options.reviewers ?? [bob, carol, alice].filter((k) => k !== key).slice(0, 2);
    for (const reviewer of reviewers) {
      await review(ledger, {
        key: reviewer,
        proposal,
        verdict: "approve",
        message: `${names.get(reviewer)} agrees`,
      });
    }
    if (options.merge !== false) await mergeProposal(ledger, { key: alice, proposal });
    return proposal;
  };
  await setStatus(alice, 1, "draft", "proposed");
  await setStatus(bob, 1, "proposed", "last-call");
  await setStatus(bob, 1, "last-call", "accepted");
  await setStatus(alice, 2, "draft", "proposed");
  await setStatus(bob, 2, "proposed", "last-call");
  await setStatus(alice, 6, "draft", "proposed");
  // Open proposals: RFC 7 with no review yet, RFC 10 with one approval of two,
  // and two proposals deciding RFC 3 differently (a conflict).
  await setStatus(alice, 7, "draft", "proposed", { reviewers: [], merge: false });
  await setStatus(alice, 10, "draft", "proposed", { reviewers: [bob], merge: false });
  await setStatus(alice, 3, "draft", "proposed", { reviewers: [], merge: false });
  await setStatus(bob, 3, "draft", "withdrawn", { reviewers: [], merge: false });
  return { gitdir, dataDir, ledger, alice, bob };
}
