import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PointerFiles } from "../../../ledger/blobs/pointer-files.ts";
import { Repository, type TreeEntry } from "../../../ledger/repository.ts";
import { TreeReader } from "../../../ledger/tree-reader.ts";
import { scratch, text } from "../../helpers/ledger.ts";

describe("pointer files", () => {
  it("should list every *.blob file with its path, and after a change walk only the trees that changed", async () => {
    const repo = await Repository.init({ gitdir: `${scratch()}/p.git`, durable: false });
    const blob = async (content: string) => repo.writeBlob(text(content));
    const file = async (name: string, content: string): Promise<TreeEntry> => ({
      mode: "100644",
      name,
      oid: await blob(content),
    });
    const folder = async (name: string, entries: TreeEntry[]): Promise<TreeEntry> => ({
      mode: "40000",
      name,
      oid: await repo.writeTree(entries),
    });
    // A door's logs (three folders of log lines), two attachments, one nested.
    const logFolder = async (day: number, lines: number) =>
      folder(
        `${day}`,
        await Promise.all(
          Array.from({ length: lines }, (_, k) => file(`${k}.log`, `badge ${day}-${k}\n`)),
        ),
      );
    const days = [await logFolder(1, 5), await logFolder(2, 5), await logFolder(3, 5)];
    const blobs = await folder("blobs", [
      await file("manual.pdf.blob", "gdo-blob v1\n(a)\n"),
      await folder("door", [await file("firmware.bin.blob", "gdo-blob v1\n(b)\n")]),
      await file("README.md", "not a pointer\n"),
    ]);
    const rootWith = async (logDays: TreeEntry[]) =>
      repo.writeTree([
        await folder("logs", logDays),
        blobs,
        await file("charter.md", "# charter\n"),
      ]);

    const reader = new TreeReader(repo);
    const reads: string[] = [];
    const counting = {
      readTree: (oid: string) => {
        reads.push(oid);
        return reader.readTree(oid);
      },
    };
    const pointers = new PointerFiles();
    const first = await pointers.list(counting, await rootWith(days));
    assert.deepEqual(
      first.map((f) => f.path),
      ["blobs/door/firmware.bin.blob", "blobs/manual.pdf.blob"],
    );
    assert.equal(first[1]!.oid, await blob("gdo-blob v1\n(a)\n"));
    // root, logs, three days, blobs, blobs/door
    assert.equal(reads.length, 7);

    // A new log line on day 3: root, logs and day 3 change; the rest is known.
    reads.length = 0;
    const changed = [days[0]!, days[1]!, await logFolder(3, 6)];
    const second = await pointers.list(counting, await rootWith(changed));
    assert.deepEqual(
      second.map((f) => f.path),
      first.map((f) => f.path),
    );
    assert.equal(reads.length, 3, `walked only the changed trees (${reads.length})`);

    // A tree not walked last time is walked again: what is kept is one tree's worth.
    reads.length = 0;
    await pointers.list(counting, await rootWith(days));
    assert.equal(reads.length, 3, "root, logs and the old day 3 again");
  });
});
