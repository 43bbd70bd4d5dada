/** `/api/rfcs.json`: every RFC's number, title, status, relations and decisions (like peps.json). */

import { getCollection } from "astro:content";
import type { APIRoute } from "astro";
import type { RfcEntry } from "../../archive.ts";
import { rfcJson } from "../../json.ts";

export const GET: APIRoute = async () => {
  const rfcs = (await getCollection("rfcs")).map((e) => e.data as RfcEntry);
  rfcs.sort((a, b) => a.number - b.number);
  const body = Object.fromEntries(
    rfcs.map((r) => [String(r.number), rfcJson(r, import.meta.env.BASE_URL)]),
  );
  return new Response(JSON.stringify(body, null, 1), {
    headers: { "content-type": "application/json" },
  });
};
