import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Browser } from "playwright-core";
import { definePlugin } from "../../plugins/api.ts";
import { rfcSitePlugin } from "../../plugins/rfc/site.ts";
import { buildSite } from "../../site/build.ts";
import { needs } from "../helpers/system.ts";
import { makeSiteLedger, SEARCH_TERM } from "./fixture.ts";
import { serveStatic } from "./static-server.ts";

const chromium = needs("chromium");

/** A dapp with a site section of its own, declared through the plugin contract. */
const inventory = definePlugin({
  name: "inventory",
  owns: ["inventory/**"],
  site: {
    title: "Inventory",
    path: "inventory",
    routes: [
      { pattern: "/inventory", entrypoint: new URL("./fixtures/inventory.astro", import.meta.url) },
    ],
  },
});
const NO_PENDING = `document.querySelectorAll('.verify[data-state="pending"]').length === 0`;

// The site built for a sub-path, copied as a folder under another site's root.
const work = mkdtempSync(join(tmpdir(), "gdo-site-base-"));
const outDir = join(work, "www", "archive");
const fixturePromise = makeSiteLedger();
let site: { url: string; close: () => Promise<void> };

before(async () => {
  const fixture = await fixturePromise;
  await buildSite({
    gitdir: fixture.gitdir,
    plugins: [rfcSitePlugin(), inventory],
    outDir,
    base: "/archive",
    cacheDir: join(work, "cache"),
  });
  site = await serveStatic(join(work, "www"));
});
after(async () => {
  await site?.close();
  rmSync(work, { recursive: true, force: true });
});

describe("the archive site under a configured base path", () => {
  it("should add a plugin's section and list it in the navigation", () => {
    const page = readFileSync(join(outDir, "inventory/index.html"), "utf8");
    assert.match(page, /<h1>Inventory of Test Makerspace<\/h1>/);
    assert.match(
      readFileSync(join(outDir, "index.html"), "utf8"),
      /<a href="\.\/inventory\/">Inventory<\/a>/,
    );
  });

  it("should make every internal URL of a page relative to it", () => {
    const html = readFileSync(join(outDir, "rfcs/2/index.html"), "utf8");
    assert.match(html, /href="\.\.\/\.\.\/rfcs\/1\/"/);
    assert.match(html, /<meta name="gdo-base" content="\.\.\/\.\.\/">/);
    assert.doesNotMatch(html, /\s(href|src)="\/(?!\/)/);
    assert.match(readFileSync(join(outDir, "index.html"), "utf8"), /src="\.\/_astro\//);
    // Feeds and JSON keep absolute URLs under the configured base.
    assert.match(
      readFileSync(join(outDir, "api/rfcs.json"), "utf8"),
      /"url": "\/archive\/rfcs\/1\/"/,
    );
  });

  it("should navigate, verify and search from the sub-path", { skip: chromium }, async () => {
    const { chromium: launcher } = await import("playwright-core");
    const browser: Browser = await launcher.launch({
      executablePath: "/usr/bin/chromium",
      headless: true,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      page.on("console", (m) => {
        if (m.type() === "error") errors.push(m.text());
      });
      await page.goto(`${site.url}/archive/rfcs/`);
      await page.getByRole("link", { name: "Membership" }).click();
      await page.waitForURL(/\/archive\/rfcs\/2\/$/);
      await page.waitForFunction(NO_PENDING);
      const states = await page
        .locator("[data-proof]")
        .evaluateAll((els) => els.map((e) => e.getAttribute("data-verified")));
      assert.deepEqual(new Set(states), new Set(["verified"]));
      await page.goto(`${site.url}/archive/search/?q=${SEARCH_TERM}`);
      const hit = page.locator("[data-search-results] li a").first();
      await hit.waitFor();
      assert.match((await hit.getAttribute("href")) ?? "", /^\/archive\/rfcs\/3\/$/);
      await page.waitForFunction('document.documentElement.dataset.offline === "ready"', null, {
        timeout: 60_000,
      });
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
    }
  });
});
