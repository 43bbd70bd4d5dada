import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { type BuildSiteResult, buildSite } from "../../site/build.ts";
import { needs } from "../helpers/system.ts";
import { makeSiteLedger, REPORT, SEARCH_TERM } from "./fixture.ts";
import { serveStatic } from "./static-server.ts";

const chromium = needs("chromium");
const NO_PENDING = `document.querySelectorAll('.verify[data-state="pending"]').length === 0`;

let built: BuildSiteResult;
let site: { url: string; close: () => Promise<void> };
/** The same folder served one level down (`/dist/…`), as a copy under another site would be. */
let copy: { url: string; close: () => Promise<void> };
// Made here, not in a hook: the ledger helpers' scratch folders are removed by an `after`
// that must belong to the file, not to the hook that builds.
const work = mkdtempSync(join(tmpdir(), "gdo-site-"));
const outDir = join(work, "dist");
const fixturePromise = makeSiteLedger();

before(async () => {
  const fixture = await fixturePromise;
  built = await buildSite({
    gitdir: fixture.gitdir,
    dataDir: fixture.dataDir,
    outDir,
    cacheDir: join(outDir, "..", "cache"),
  });
  // A copy of RFC 1's page whose signed data was altered after the build.
  const page = readFileSync(join(outDir, "rfcs/1/index.html"), "utf8");
  const tampered = page.replaceAll("proposed → last-call", "proposed → accepted");
  assert.notEqual(tampered, page);
  mkdirSync(join(outDir, "tampered"), { recursive: true });
  writeFileSync(join(outDir, "tampered/index.html"), tampered);
  // A copy where only the payload shown to people was altered, not the signed data.
  const shown = page.replace(
    /(<pre class="payload">[^<]*?)RFC 1: proposed → last-call/,
    "$1RFC 1: proposed → accepted",
  );
  assert.notEqual(shown, page);
  mkdirSync(join(outDir, "tampered-view"), { recursive: true });
  writeFileSync(join(outDir, "tampered-view/index.html"), shown);
  site = await serveStatic(outDir);
  copy = await serveStatic(work);
});
after(async () => {
  await site?.close();
  await copy?.close();
  rmSync(work, { recursive: true, force: true });
});

const read = (path: string) => readFileSync(join(outDir, path), "utf8");

describe("the built archive site", () => {
  it("should render one page per RFC, the index, members, proposals, conflicts and search", () => {
    assert.equal(built.rfcs, 12);
    for (let n = 1; n <= 12; n++)
      assert.ok(existsSync(join(outDir, `rfcs/${n}/index.html`)), `RFC ${n}`);
    for (const page of [
      "index.html",
      "rfcs/index.html",
      "members/index.html",
      "proposals/index.html",
      "conflicts/index.html",
      "decisions/index.html",
      "search/index.html",
      "404.html",
    ]) {
      assert.ok(existsSync(join(outDir, page)), page);
    }
  });

  it("should strip scripts, event handlers and javascript: links from RFC Markdown", () => {
    const html = read("rfcs/5/index.html");
    assert.doesNotMatch(html, /__pwned/);
    assert.doesNotMatch(html, /javascript:/);
    assert.match(html, /href="https:\/\/example\.org"/);
  });

  it("should serve attachments from the ledger and report bad or missing ones with file and line", () => {
    assert.ok(existsSync(join(outDir, "rfcs/assets/0004/diagram.png")));
    assert.match(read("rfcs/4/index.html"), /src="\.\.\/\.\.\/rfcs\/assets\/0004\/diagram\.png"/);
    assert.ok(!existsSync(join(outDir, "rfcs/assets/0004/bad.svg")), "unsafe SVG not served");
    const rules = built.diagnostics.map((d) => `${d.file}:${d.line} ${d.ruleId}`);
    assert.ok(rules.includes("rfcs/0004-budget-process.md:25 svg-unsafe"), rules.join("\n"));
    assert.ok(
      rules.includes("rfcs/0004-budget-process.md:27 attachment-missing"),
      rules.join("\n"),
    );
    assert.deepEqual(
      readFileSync(join(outDir, "rfcs/assets/0004/report.pdf")),
      Buffer.from(REPORT),
    );
    assert.ok(!existsSync(join(outDir, "rfcs/assets/0004/report.pdf.blob")));
    assert.ok(
      rules.includes("rfcs/0004-budget-process.md:29 attachment-unavailable"),
      rules.join("\n"),
    );
  });

  it("should publish rfcs.json with status, relations and decisions", () => {
    const rfcs = JSON.parse(read("api/rfcs.json"));
    assert.equal(rfcs["1"].status, "accepted");
    assert.deepEqual(rfcs["2"].requires, [1]);
    assert.deepEqual(rfcs["1"]["referenced-by"], [2]);
    assert.deepEqual(rfcs["2"]["referenced-by"], [3]);
    assert.deepEqual(
      rfcs["1"].decisions.map((d: { from?: string; to: string }) => `${d.from ?? ""}>${d.to}`),
      [">draft", "draft>proposed", "proposed>last-call", "last-call>accepted"],
    );
    const one = JSON.parse(read("api/rfcs/1.json"));
    assert.match(one.decisions[1].signature, /BEGIN SSH SIGNATURE/);
    const members = JSON.parse(read("api/members.json"));
    assert.deepEqual(
      members.map((m: { name: string }) => m.name),
      ["alice", "bob", "carol"],
    );
    const one1 = JSON.parse(read("api/rfcs/1.json"));
    assert.deepEqual(
      one1.decisions.map((d: { approvals: Array<{ signer: string }> }) =>
        d.approvals.map((a) => a.signer).join("+"),
      ),
      ["", "bob+carol", "alice+carol", "alice+carol"],
    );
  });

  it("should list open proposals, what each still needs, and divergent decisions", () => {
    const proposals = read("proposals/index.html");
    for (const id of ["rfc-7-draft-proposed", "rfc-10-draft-proposed", "rfc-3-draft-withdrawn"])
      assert.match(proposals, new RegExp(`Proposal ${id}-[0-9a-f]{4}`));
    assert.doesNotMatch(proposals, /Proposal rfc-1-/, "merged proposals are not open");
    assert.match(proposals, /1 more approval from editor \(status-change\): 1 of 2/);
    assert.match(proposals, /2 more approvals from editor \(status-change\): 0 of 2/);
    assert.match(proposals, /Review by <\/strong> <a href="\.\.\/members\/#member-bob">bob/);
    assert.match(read("conflicts/index.html"), /RFC 3<\/a>: 2 branches decide different statuses/);
  });

  it("should publish Atom and RSS feeds of decisions and per status", () => {
    assert.match(
      read("feeds/decisions.atom"),
      /<entry>[\s\S]*RFC 1 \(Archive basics\): last-call → accepted/,
    );
    assert.match(read("feeds/decisions.rss"), /<item>/);
    assert.match(read("feeds/status/last-call.atom"), /RFC 2 \(Membership\): proposed → last-call/);
  });
});

describe("the archive site in a real browser", { skip: chromium }, () => {
  let browser: Browser;
  let context: BrowserContext;
  const errors: string[] = [];

  before(async () => {
    const { chromium: launcher } = await import("playwright-core");
    // Playwright gives every launch a fresh, temporary user data folder.
    browser = await launcher.launch({
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
    context = await browser.newContext();
  });
  after(async () => {
    await browser?.close();
  });

  const open = async (path: string, ctx = context, root = site.url): Promise<Page> => {
    const page = await ctx.newPage();
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(`${path}: ${m.text()}`);
    });
    page.on("pageerror", (e) => errors.push(`${path}: ${e.message}`));
    await page.goto(`${root}${path}`);
    return page;
  };

  it("should navigate from the index to an RFC and follow a backlink", async () => {
    const page = await open("/rfcs/");
    await page.getByRole("link", { name: "Archive basics" }).click();
    await page.waitForURL(/\/rfcs\/1\/$/);
    assert.equal(await page.locator("h1").first().textContent(), "Archive basics");
    await page.locator("ul.backlinks").getByRole("link", { name: /RFC 2/ }).click();
    await page.waitForURL(/\/rfcs\/2\/$/);
    assert.match((await page.locator("h1").first().textContent()) ?? "", /Membership/);
    await page.close();
  });

  it("should filter the index by status", async () => {
    const page = await open("/rfcs/?status=accepted");
    assert.equal(await page.locator(".rfc-index tbody tr:not([hidden])").count(), 1);
    await page.close();
  });

  it("should find a term with full-text search", async () => {
    const page = await open(`/search/?q=${SEARCH_TERM}`);
    await page.waitForSelector("[data-search-results] li a");
    assert.match(
      (await page.locator("[data-search-results] li a").first().textContent()) ?? "",
      /RFC 3/,
    );
    await page.close();
  });

  it("should show every decision as verified", async () => {
    const page = await open("/rfcs/1/");
    await page.waitForFunction(NO_PENDING);
    const states = await page
      .locator("[data-proof]")
      .evaluateAll((els) => els.map((e) => e.getAttribute("data-verified")));
    assert.ok(states.length >= 4);
    assert.deepEqual(new Set(states), new Set(["verified"]));
    assert.equal(await page.evaluate("window.__pwned"), undefined);
    await page.close();
  });

  it("should verify signed reviews of open proposals", async () => {
    const page = await open("/proposals/");
    await page.waitForFunction(NO_PENDING);
    const states = await page
      .locator("[data-proof]")
      .evaluateAll((els) => els.map((e) => e.getAttribute("data-verified")));
    assert.ok(states.length >= 5);
    assert.deepEqual(new Set(states), new Set(["verified"]));
    await page.close();
  });

  it("should verify approvals carried by a merge like decisions", async () => {
    const page = await open("/rfcs/6/");
    await page.waitForFunction(NO_PENDING);
    const states = await page
      .locator("[data-proof]")
      .evaluateAll((els) => els.map((e) => e.getAttribute("data-verified")));
    assert.equal(states.length, 4, "added; proposed with two approvals");
    assert.deepEqual(new Set(states), new Set(["verified"]));
    assert.match(
      (await page.locator(".decision").last().textContent()) ?? "",
      /Approved by\s+bob[\s\S]*Approved by\s+carol/,
    );
    await page.close();
  });

  it("should show a visible failure on a page whose signed data was tampered with", async () => {
    const page = await open("/tampered/");
    await page.waitForFunction(NO_PENDING);
    const failed = page.locator('.verify[data-state="failed"]');
    assert.equal(await failed.count(), 1);
    assert.match((await failed.textContent()) ?? "", /verification failed/);
    assert.ok(await failed.isVisible());
    await page.close();
  });

  it("should fail a proof whose displayed payload differs from the signed one", async () => {
    const page = await open("/tampered-view/");
    await page.waitForFunction(NO_PENDING);
    const failed = page.locator('.verify[data-state="failed"]');
    assert.equal(await failed.count(), 1);
    assert.match((await failed.textContent()) ?? "", /shown differs from the signed data/);
    await page.close();
  });

  it("should keep working offline: an unvisited page and search", async () => {
    const ctx = await browser.newContext();
    const page = await open("/", ctx);
    await page.waitForFunction('document.documentElement.dataset.offline === "ready"', null, {
      timeout: 60_000,
    });
    await ctx.setOffline(true);
    await page.goto(`${site.url}/rfcs/9/`);
    assert.match((await page.locator("h1").first().textContent()) ?? "", /Election rules/);
    await page.goto(`${site.url}/search/?q=${SEARCH_TERM}`);
    await page.waitForSelector("[data-search-results] li a", { timeout: 20_000 });
    assert.match(
      (await page.locator("[data-search-results] li a").first().textContent()) ?? "",
      /RFC 3/,
    );
    await ctx.close();
  });

  it("should work from a copied folder under another path, offline too", async () => {
    const ctx = await browser.newContext();
    const page = await open("/rfcs/", ctx, `${copy.url}/dist`);
    await page.getByRole("link", { name: "Membership" }).click();
    await page.waitForURL(/\/dist\/rfcs\/2\/$/);
    await page.waitForFunction(NO_PENDING);
    const states = await page
      .locator("[data-proof]")
      .evaluateAll((els) => els.map((e) => e.getAttribute("data-verified")));
    assert.deepEqual(new Set(states), new Set(["verified"]));
    await page.waitForFunction('document.documentElement.dataset.offline === "ready"', null, {
      timeout: 60_000,
    });
    await ctx.setOffline(true);
    await page.goto(`${copy.url}/dist/search/?q=${SEARCH_TERM}`);
    const hit = page.locator("[data-search-results] li a").first();
    await hit.waitFor({ timeout: 20_000 });
    assert.match((await hit.getAttribute("href")) ?? "", /^\/dist\/rfcs\/3\/$/);
    await ctx.close();
  });

  it("should have no serious accessibility violations on the main pages", async () => {
    const axe = readFileSync(
      new URL("../../node_modules/axe-core/axe.min.js", import.meta.url),
      "utf8",
    );
    for (const path of ["/", "/rfcs/", "/rfcs/1/", "/members/", "/search/", "/proposals/"]) {
      const page = await open(path);
      await page.addScriptTag({ content: axe });
      const violations = (await page.evaluate(`axe.run().then((r) => r.violations
        .filter((v) => v.impact === "serious" || v.impact === "critical")
        .map((v) => v.id + " (" + v.nodes.length + ")"))`)) as string[];
      assert.deepEqual(violations, [], `${path}: ${violations.join(", ")}`);
      await page.close();
    }
  });

  it("should log no console errors", () => {
    assert.deepEqual(errors, []);
  });
});
