/** `/api/rfcs/<n>.json`: one RFC with its relations, decisions (with proofs) and blocks. */

import { getCollection } from "astro:content";
import type { APIRoute, GetStaticPaths } from "astro";
import type { RfcEntry } from "../../../archive.ts";
import { rfcJson } from "../../../json.ts";

export const getStaticPaths: GetStaticPaths = async () =>
  (await getCollection("rfcs")).map((e) => ({ params: { rfc: e.id }, props: { rfc: e.data } }));

export const GET: APIRoute = ({ props }) => {
  const rfc = props.rfc as RfcEntry;
  const body = {
    ...rfcJson(rfc, import.meta.env.BASE_URL),
    decisions: rfc.decisions,
    blocks: rfc.blocks,
  };
  return new Response(JSON.stringify(body, null, 1), {
    headers: { "content-type": "application/json" },
  });
};
