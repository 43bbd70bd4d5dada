/** Atom feed per status: decisions that moved an RFC into it (e.g. `last-call.atom`). */
import type { APIRoute, GetStaticPaths } from "astro";
import { RFC_STATUSES } from "../../../../plugins/rfc/format.ts";
import { feedContext } from "../../../feed-items.ts";
import { atomFeed } from "../../../feeds.ts";

export const getStaticPaths: GetStaticPaths = () =>
  RFC_STATUSES.map((status) => ({ params: { status } }));

export const GET: APIRoute = async ({ site, params }) => {
  const { ledger, items, absolute, link } = await feedContext(site, 100_000);
  const status = params.status!;
  const body = atomFeed({
    title: `${ledger.name}: RFCs entering ${status}`,
    id: `urn:gdo:ledger:${ledger.id}:status:${status}`,
    self: absolute(`feeds/status/${status}.atom`),
    link,
    items: items.filter((d) => d.to === status).slice(0, 100),
  });
  return new Response(body, { headers: { "content-type": "application/atom+xml" } });
};
