import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkGlob, globsOverlap, matchGlob } from "../../plugins/glob.ts";

describe("ledger path globs", () => {
  it("should match paths segment by segment", () => {
    assert.ok(matchGlob("rfcs/**", "rfcs/0005-x.md"));
    assert.ok(matchGlob("rfcs/**", "rfcs/assets/0005/a/b.png"));
    assert.ok(matchGlob("rfcs/*.md", "rfcs/0005-x.md"));
    assert.ok(!matchGlob("rfcs/*.md", "rfcs/assets/x.md"));
    assert.ok(!matchGlob("rfcs/**", "rfcsx/a"));
    assert.ok(!matchGlob("rfcs/**", "inventory/rfcs/a"));
    assert.ok(matchGlob("**/*.md", "a/b/c.md"));
    assert.ok(matchGlob("inventory/item-*", "inventory/item-42"));
    assert.ok(!matchGlob("inventory/item-*", "inventory/items/42"));
    assert.ok(matchGlob("charter.json", "charter.json"));
  });

  it("should treat '*' in a path as a literal character", () => {
    assert.ok(!matchGlob("a/b", "a/*"));
    assert.ok(matchGlob("a/*", "a/*"));
  });

  it("should decide whether two globs share a path", () => {
    assert.ok(globsOverlap("rfcs/**", "rfcs/*.md"));
    assert.ok(globsOverlap("rfcs/**", "**/*.md"));
    assert.ok(globsOverlap("a/*-x/c", "a/b-*/**"));
    assert.ok(globsOverlap("**", "anything/at/all"));
    assert.ok(!globsOverlap("rfcs/**", "inventory/**"));
    assert.ok(!globsOverlap("rfcs/*.md", "rfcs/*.json"));
    assert.ok(!globsOverlap("rfcs/*.md", "rfcs/assets/*.md"));
    assert.ok(!globsOverlap("a/x*", "a/y*"));
  });

  it("should refuse syntax it does not support", () => {
    assert.equal(checkGlob("rfcs/**"), undefined);
    assert.match(checkGlob("/rfcs/**")!, /relative/);
    assert.match(checkGlob("rfcs/**.md")!, /inside a segment/);
    assert.match(checkGlob("rfcs/{a,b}")!, /unsupported/);
    assert.match(checkGlob("rfcs//a")!, /empty segment/);
    assert.match(checkGlob("rfcs/../a")!, /'\.\.'/);
  });
});
