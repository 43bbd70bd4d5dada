/**
 * The worker side of the plugin host (see host.ts): imports one plugin module,
 * builds the plugin from its factory and runs its validator on request. The
 * trees are proxies: every read or list is a message to the host, which owns the
 * ledger and enforces the plugin's read scope.
 */
import { parentPort } from "node:worker_threads";
import type { Plugin, TreeView } from "./api.ts";
import type { FromWorker, ToWorker } from "./host.ts";

const port = parentPort!;
let plugin: Plugin | undefined;
let nextId = 1;
const pending = new Map<number, { resolve: (m: Extract<ToWorker, { type: "tree" }>) => void }>();

function post(message: FromWorker) {
  port.postMessage(message);
}

function ask(tree: "before" | "after", op: "read" | "list", path: string) {
  const id = nextId++;
  return new Promise<Extract<ToWorker, { type: "tree" }>>((resolve) => {
    pending.set(id, { resolve });
    post({ type: "tree", id, tree, op, path });
  });
}

function proxyTree(tree: "before" | "after"): TreeView {
  return {
    async read(path) {
      const reply = await ask(tree, "read", String(path));
      if (reply.error !== undefined) throw new Error(reply.error);
      return reply.bytes;
    },
    async list(prefix) {
      const reply = await ask(tree, "list", String(prefix));
      if (reply.error !== undefined) throw new Error(reply.error);
      return reply.paths ?? [];
    },
  };
}

port.on("message", async (message: ToWorker) => {
  if (message.type === "tree") {
    const waiter = pending.get(message.id);
    pending.delete(message.id);
    waiter?.resolve(message);
    return;
  }
  if (message.type === "init") {
    try {
      const mod = (await import(message.module)) as Record<string, unknown>;
      const factory = mod[message.export];
      if (typeof factory !== "function")
        throw new Error(`export '${message.export}' is not a plugin factory`);
      const built = (await factory(message.options)) as Plugin;
      if (typeof built?.name !== "string" || !Array.isArray(built.owns))
        throw new Error(`export '${message.export}' did not return a plugin`);
      plugin = built;
      post({
        type: "ready",
        name: built.name,
        owns: [...built.owns],
        reads: [...(built.reads ?? [])],
        validates: typeof built.validate === "function",
      });
    } catch (error) {
      post({ type: "init-failed", message: (error as Error)?.message ?? String(error) });
    }
    return;
  }
  if (message.type === "validate") {
    try {
      const result = await plugin!.validate!({
        before: proxyTree("before"),
        after: proxyTree("after"),
        changes: message.changes,
        genesis: message.genesis === true,
      });
      post({ type: "result", result });
    } catch (error) {
      post({ type: "threw", message: (error as Error)?.message ?? String(error) });
    }
  }
});
