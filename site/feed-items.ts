import { getCollection, getEntry } from "astro:content";
import type { FeedItem } from "./feeds.ts";

/** Decisions newest first (at most `limit`), with the organisation's name and a link maker. */
export async function feedContext(site: URL | undefined, limit = 100) {
  const ledger = (await getEntry("ledger", "ledger"))!.data as { name: string; id: string };
  const items = (await getCollection("decisions"))
    .map((e) => e.data as FeedItem)
    .reverse()
    .slice(0, limit);
  const base = import.meta.env.BASE_URL.endsWith("/")
    ? import.meta.env.BASE_URL
    : `${import.meta.env.BASE_URL}/`;
  const absolute = (path: string) =>
    site ? new URL(`${base}${path}`, site).href : `${base}${path}`;
  return { ledger, items, absolute, link: (d: FeedItem) => absolute(`rfcs/${d.rfc}/#decisions`) };
}
