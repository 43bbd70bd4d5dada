/**
 * The RFC archive's section of the site: the index of all RFCs and one page per
 * RFC (with its decision timeline). The pages are Astro components kept with
 * the site app (`site/sections/rfc/`), since they are rendered by it; this file
 * is what the plugin declares, exactly as a later dapp declares its own section.
 */
import { definePlugin, type Plugin, type SiteSection } from "../api.ts";
import rfcPlugin, { type RfcPluginOptions } from "./index.ts";

const page = (name: string) => new URL(`../../site/sections/rfc/${name}`, import.meta.url);

export const rfcSiteSection: SiteSection = Object.freeze({
  title: "RFCs",
  path: "rfcs",
  routes: Object.freeze([
    { pattern: "/rfcs", entrypoint: page("index.astro") },
    { pattern: "/rfcs/[rfc]", entrypoint: page("rfc.astro") },
  ]),
});

/** The RFC plugin with its site section (the site's default plugin list). */
export function rfcSitePlugin(options: RfcPluginOptions = {}): Plugin {
  const base = rfcPlugin(options);
  return definePlugin({
    name: base.name,
    owns: base.owns,
    reads: base.reads,
    ...(base.validate ? { validate: base.validate } : {}),
    site: rfcSiteSection,
  });
}
