/** `/api/members.json`: the published member keys the browser verifies decisions against. */

import { getCollection } from "astro:content";
import type { APIRoute } from "astro";

export const GET: APIRoute = async () => {
  const members = (await getCollection("members")).map((e) => e.data);
  return new Response(JSON.stringify(members, null, 1), {
    headers: { "content-type": "application/json" },
  });
};
