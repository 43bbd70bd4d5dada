/**
 * Atom and RSS documents for decisions (all of them, or those moving RFCs into
 * one status). Pure string building; the feed endpoints pass absolute URLs
 * when the site's public URL is configured, else site-relative ones.
 */
import type { Decision } from "../plugins/rfc/decisions.ts";

export interface FeedItem extends Decision {
  title?: string;
}

const escapeXml = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

function itemTitle(d: FeedItem): string {
  const what = d.from ? `${d.from} → ${d.to}` : `added as ${d.to}`;
  return `RFC ${d.rfc}${d.title ? ` (${d.title})` : ""}: ${what}`;
}

export function atomFeed({
  title,
  id,
  self,
  link,
  items,
}: {
  title: string;
  id: string;
  self: string;
  link: (d: FeedItem) => string;
  items: FeedItem[];
}): string {
  const updated = new Date((items[0]?.timestamp ?? 0) * 1000).toISOString();
  const entries = items.map(
    (d) => `  <entry>
    <id>urn:gdo:block:${d.block}:rfc:${d.rfc}</id>
    <title>${escapeXml(itemTitle(d))}</title>
    <link href="${escapeXml(link(d))}"/>
    <updated>${new Date(d.timestamp * 1000).toISOString()}</updated>
    <author><name>${escapeXml(d.signer)}</name></author>
    <summary>${escapeXml(d.message.split("\n", 1)[0] ?? "")}</summary>
  </entry>`,
  );
  return `<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>${escapeXml(title)}</title>
  <id>${escapeXml(id)}</id>
  <link rel="self" href="${escapeXml(self)}"/>
  <updated>${updated}</updated>
${entries.join("\n")}
</feed>
`;
}

export function rssFeed({
  title,
  home,
  link,
  items,
}: {
  title: string;
  home: string;
  link: (d: FeedItem) => string;
  items: FeedItem[];
}): string {
  const rows = items.map(
    (d) => `    <item>
      <title>${escapeXml(itemTitle(d))}</title>
      <link>${escapeXml(link(d))}</link>
      <guid isPermaLink="false">urn:gdo:block:${d.block}:rfc:${d.rfc}</guid>
      <pubDate>${new Date(d.timestamp * 1000).toUTCString()}</pubDate>
      <description>${escapeXml(`${d.signer}: ${d.message.split("\n", 1)[0] ?? ""}`)}</description>
    </item>`,
  );
  return `<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0">
  <channel>
    <title>${escapeXml(title)}</title>
    <link>${escapeXml(home)}</link>
    <description>${escapeXml(title)}</description>
${rows.join("\n")}
  </channel>
</rss>
`;
}
