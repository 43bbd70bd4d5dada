/** Atom feed of new decisions. */
import type { APIRoute } from "astro";
import { feedContext } from "../../feed-items.ts";
import { atomFeed } from "../../feeds.ts";

export const GET: APIRoute = async ({ site }) => {
  const { ledger, items, absolute, link } = await feedContext(site);
  const body = atomFeed({
    title: `${ledger.name}: decisions`,
    id: `urn:gdo:ledger:${ledger.id}:decisions`,
    self: absolute("feeds/decisions.atom"),
    link,
    items,
  });
  return new Response(body, { headers: { "content-type": "application/atom+xml" } });
};
