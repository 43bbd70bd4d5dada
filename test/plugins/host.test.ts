import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { definePlugin } from "../../plugins/api.ts";
import { PluginConflictError, PluginLoadError } from "../../plugins/errors.ts";
import { loadPlugins } from "../../plugins/host.ts";
import { memoryTree } from "../../plugins/memory-tree.ts";
import rfcPlugin from "../../plugins/rfc/index.ts";
import behavingPlugin from "./fixtures/behaving-plugin.ts";

const behaving = new URL("./fixtures/behaving-plugin.ts", import.meta.url);
const rfcModule = new URL("../../plugins/rfc/index.ts", import.meta.url);

const draft = "---\nrfc: 1\ntitle: One\nstatus: draft\nauthors: [Ada]\ncreated: 2026-11-25\n---\n";

describe("plugin host", () => {
  it("should refuse two plugins owning overlapping paths", async () => {
    const other = definePlugin({ name: "docs", owns: ["**/*.md"] });
    await assert.rejects(
      loadPlugins({ plugins: [rfcPlugin(), other] }),
      (e) =>
        e instanceof PluginConflictError && e.message.includes("(rfcs/**) and 'docs' (**/*.md)"),
    );
  });

  it("should refuse two plugins with the same name", async () => {
    const a = definePlugin({ name: "same", owns: ["a/**"] });
    const b = definePlugin({ name: "same", owns: ["b/**"] });
    await assert.rejects(loadPlugins({ plugins: [a, b] }), PluginConflictError);
  });

  it("should route each change to its owner and return the unowned ones", async () => {
    await using host = await loadPlugins({ plugins: [rfcPlugin(), behavingPlugin()] });
    const { routed, unowned } = host.route([
      { path: "rfcs/0001-one.md", kind: "add" },
      { path: "behaving/ok", kind: "add" },
      { path: "charter.json", kind: "modify" },
    ]);
    assert.deepEqual(routed.get("rfc"), [{ path: "rfcs/0001-one.md", kind: "add" }]);
    assert.deepEqual(routed.get("behaving"), [{ path: "behaving/ok", kind: "add" }]);
    assert.deepEqual(unowned, [{ path: "charter.json", kind: "modify" }]);
    assert.equal(host.ownerOf("rfcs/assets/0001/x.png")?.name, "rfc");
  });

  it("should run validators and tag their diagnostics and requirements", async () => {
    await using host = await loadPlugins({ plugins: [rfcPlugin(), behavingPlugin()] });
    const after = memoryTree({
      "rfcs/0001-one.md": draft.replace("draft", "final"),
      "behaving/ok": "hi",
    });
    const result = await host.validate({
      before: memoryTree(),
      after,
      changes: [
        { path: "rfcs/0001-one.md", kind: "add" },
        { path: "behaving/ok", kind: "add" },
      ],
    });
    assert.deepEqual(
      result.diagnostics.map((d) => `${d.source} ${d.ruleId} ${d.file}`),
      ["behaving echo behaving/ok", "rfc new-rfc-not-draft rfcs/0001-one.md"],
    );
    assert.deepEqual(result.requirements, [
      { kind: "seen", path: "behaving/ok", plugin: "behaving" },
    ]);
  });

  it("should turn a throwing validator into a validator-threw diagnostic", async () => {
    await using host = await loadPlugins({ plugins: [behavingPlugin()] });
    const result = await host.validate({
      before: memoryTree(),
      after: memoryTree({ "behaving/throw": "" }),
      changes: [{ path: "behaving/throw", kind: "add" }],
    });
    assert.deepEqual(
      result.diagnostics.map((d) => [d.ruleId, d.severity, d.source, d.reason]),
      [["validator-threw", "error", "behaving", "the 'behaving' validator threw: boom"]],
    );
  });

  it("should refuse an in-thread validator that never settles, after the time limit", async () => {
    await using host = await loadPlugins({ plugins: [behavingPlugin()], timeoutMs: 100 });
    const start = performance.now();
    const result = await host.validate({
      before: memoryTree(),
      after: memoryTree({ "behaving/async-hang": "" }),
      changes: [{ path: "behaving/async-hang", kind: "add" }],
    });
    assert.ok(performance.now() - start < 2000);
    assert.deepEqual(
      result.diagnostics.map((d) => d.ruleId),
      ["validator-timeout"],
    );
  });

  it("should refuse a malformed result", async () => {
    await using host = await loadPlugins({ plugins: [behavingPlugin()] });
    const result = await host.validate({
      before: memoryTree(),
      after: memoryTree({ "behaving/bad-result": "" }),
      changes: [{ path: "behaving/bad-result", kind: "add" }],
    });
    assert.deepEqual(
      result.diagnostics.map((d) => d.ruleId),
      ["validator-invalid-result"],
    );
  });

  it("should stop a synchronous infinite loop in a worker, then run the next change in a fresh one", async () => {
    await using host = await loadPlugins({ plugins: [{ module: behaving }], timeoutMs: 500 });
    assert.equal(host.plugins[0]!.name, "behaving");
    const after = memoryTree({ "behaving/sync-loop": "", "behaving/ok": "still alive" });
    const start = performance.now();
    const looped = await host.validate({
      before: memoryTree(),
      after,
      changes: [{ path: "behaving/sync-loop", kind: "add" }],
    });
    assert.ok(performance.now() - start < 5000);
    assert.deepEqual(
      looped.diagnostics.map((d) => d.ruleId),
      ["validator-timeout"],
    );
    const next = await host.validate({
      before: memoryTree(),
      after,
      changes: [{ path: "behaving/ok", kind: "add" }],
    });
    assert.deepEqual(
      next.diagnostics.map((d) => d.reason),
      ["still alive"],
    );
  });

  it("should copy bytes into the worker without detaching the caller's buffers", async () => {
    await using host = await loadPlugins({ plugins: [{ module: behaving }] });
    const pooled = Buffer.from("pooled bytes");
    const tree = { read: async () => pooled, list: async () => ["behaving/ok"] };
    const result = await host.validate({
      before: memoryTree(),
      after: tree,
      changes: [{ path: "behaving/ok", kind: "add" }],
    });
    assert.deepEqual(
      result.diagnostics.map((d) => d.reason),
      ["pooled bytes"],
    );
    assert.equal(pooled.toString(), "pooled bytes");
    assert.equal(Buffer.from("still usable").toString(), "still usable");
  });

  it("should pass options to a module plugin's factory in its worker", async () => {
    await using host = await loadPlugins({
      plugins: [{ module: behaving, options: { name: "renamed", owns: "other/**" } }],
    });
    assert.deepEqual(
      host.plugins.map((p) => [p.name, p.owns]),
      [["renamed", ["other/**"]]],
    );
  });

  it("should let a validator read only the paths it owns or declared", async () => {
    await using host = await loadPlugins({ plugins: [{ module: behaving }] });
    const result = await host.validate({
      before: memoryTree(),
      after: memoryTree({ "behaving/read-outside": "", "elsewhere/secret": "no" }),
      changes: [{ path: "behaving/read-outside", kind: "add" }],
    });
    assert.deepEqual(
      result.diagnostics.map((d) => d.ruleId),
      ["validator-threw"],
    );
    assert.match(result.diagnostics[0]!.reason, /may not read 'elsewhere\/secret'/);
  });

  it("should give the same answer for the RFC plugin in a worker as in-thread", async () => {
    const input = {
      before: memoryTree({ "rfcs/0001-one.md": draft }),
      after: memoryTree({
        "rfcs/0001-one.md": draft.replace("draft", "proposed"),
        "rfcs/0002-two.md": draft
          .replace("rfc: 1", "rfc: 2")
          .replace("created", "requires: [9]\ncreated"),
      }),
      changes: [
        { path: "rfcs/0001-one.md", kind: "modify" as const },
        { path: "rfcs/0002-two.md", kind: "add" as const },
      ],
    };
    await using inWorker = await loadPlugins({ plugins: [{ module: rfcModule }] });
    await using inThread = await loadPlugins({ plugins: [rfcPlugin()] });
    const a = await inWorker.validate(input);
    const b = await inThread.validate(input);
    assert.deepEqual(a, b);
    assert.deepEqual(
      a.diagnostics.map((d) => `${d.file}:${d.line} ${d.ruleId}`),
      ["rfcs/0002-two.md:6 requires-missing"],
    );
    assert.deepEqual(a.requirements, [
      {
        kind: "status-change",
        path: "rfcs/0001-one.md",
        rfc: 1,
        from: "draft",
        to: "proposed",
        plugin: "rfc",
      },
    ]);
  });

  it("should fail to load a module that is not a plugin", async () => {
    await assert.rejects(
      loadPlugins({ plugins: [{ module: new URL("./fixtures/missing.ts", import.meta.url) }] }),
      PluginLoadError,
    );
    await assert.rejects(
      loadPlugins({ plugins: [{ module: behaving, export: "nothing" }] }),
      (e) => e instanceof PluginLoadError && /not a plugin factory/.test(e.message),
    );
  });
});
