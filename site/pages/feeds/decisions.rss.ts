/** RSS 2.0 feed of new decisions. */
import type { APIRoute } from "astro";
import { feedContext } from "../../feed-items.ts";
import { rssFeed } from "../../feeds.ts";

export const GET: APIRoute = async ({ site }) => {
  const { ledger, items, absolute, link } = await feedContext(site);
  const body = rssFeed({ title: `${ledger.name}: decisions`, home: absolute(""), link, items });
  return new Response(body, { headers: { "content-type": "application/rss+xml" } });
};
