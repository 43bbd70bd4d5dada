/** `/api/decisions.json`: every decision on the branch, oldest first, with payloads and signatures. */

import { getCollection } from "astro:content";
import type { APIRoute } from "astro";

export const GET: APIRoute = async () => {
  const decisions = (await getCollection("decisions")).map((e) => e.data);
  return new Response(JSON.stringify(decisions, null, 1), {
    headers: { "content-type": "application/json" },
  });
};
