/** `/api/decisions.json`: every decision on the branch, oldest first, with payloads and signatures. */
import type { APIRoute } from "astro";
import { getCollection } from "astro:content";

export const GET: APIRoute = async () => {
  const decisions = (await getCollection("decisions")).map((e) => e.data);
  return new Response(JSON.stringify(decisions, null, 1), { headers: { "content-type": "application/json" } });
};
