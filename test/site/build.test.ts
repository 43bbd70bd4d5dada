import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { buildSite } from "../../site/build.ts";
import { atomFeed } from "../../site/feeds.ts";
import { normalizeBase } from "../../site/options.ts";
import { writeServiceWorker } from "../../site/service-worker.ts";
import { scratch } from "../helpers/ledger.ts";

describe("site build pieces", () => {
  it("should refuse a missing ledger with a stable code naming it, before Astro starts", async () => {
    const dir = scratch("gdo-site-missing-");
    await assert.rejects(
      buildSite({ gitdir: join(dir, "nope.git"), outDir: join(dir, "out") }),
      (error: Error & { code?: string }) =>
        error.code === "site-ledger-unreadable" && error.message.includes("nope.git"),
    );
  });

  it("should normalise the base path", () => {
    assert.equal(normalizeBase(undefined), "/");
    assert.equal(normalizeBase(""), "/");
    assert.equal(normalizeBase("archive"), "/archive/");
    assert.equal(normalizeBase("/a/b/"), "/a/b/");
  });

  it("should precache every file relative to its scope, with a version that changes with any byte", async () => {
    const dir = scratch("gdo-site-sw-");
    mkdirSync(join(dir, "rfcs/1"), { recursive: true });
    writeFileSync(join(dir, "index.html"), "<h1>home</h1>");
    writeFileSync(join(dir, "rfcs/1/index.html"), "<h1>one</h1>");
    const first = await writeServiceWorker({ outDir: dir });
    assert.equal(first.files, 2);
    const source = readFileSync(join(dir, "sw.js"), "utf8");
    assert.match(source, /\["index.html","rfcs\/1\/index.html"\]/);
    assert.match(source, /ignoreSearch: true/);
    writeFileSync(join(dir, "rfcs/1/index.html"), "<h1>One</h1>");
    const second = await writeServiceWorker({ outDir: dir });
    assert.notEqual(second.version, first.version);
    assert.equal(second.files, 2, "sw.js itself is not precached");
  });

  it("should escape feed text", () => {
    const xml = atomFeed({
      title: "A & B <org>",
      id: "urn:x",
      self: "/feeds/decisions.atom",
      link: () => "/rfcs/1/",
      items: [
        {
          rfc: 1,
          path: "rfcs/0001-x.md",
          to: "draft",
          block: "a".repeat(40),
          signer: "alice",
          key: "",
          timestamp: 0,
          message: "Add <script>\n",
          payload: "",
          signature: "",
          approvals: [],
          title: "x & y",
        },
      ],
    });
    assert.match(xml, /<title>A &amp; B &lt;org&gt;<\/title>/);
    assert.match(xml, /<summary>Add &lt;script&gt;<\/summary>/);
    assert.doesNotMatch(xml, /<script>/);
  });
});
