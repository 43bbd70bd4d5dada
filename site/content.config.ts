/**
 * The site's content collections: all of them are loaded from the ledger (see
 * ledger-loader.ts). `virtual:gdo-site` names the build these loaders serve.
 */
import { defineCollection } from "astro:content";
import { buildId } from "virtual:gdo-site";
import { ledgerLoaders } from "./ledger-loader.ts";

export const collections = Object.fromEntries(
  Object.entries(ledgerLoaders(buildId)).map(([name, loader]) => [
    name,
    defineCollection({ loader }),
  ]),
);
