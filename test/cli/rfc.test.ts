import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { gdo } from "../helpers/cli.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

const rfc = (n: number, extra = "") =>
  `---\nrfc: ${n}\ntitle: RFC ${n}\nstatus: draft\nauthors: [Ada]\ncreated: 2026-11-25\n${extra}---\n\nBody.\n`;

describe("gdo rfc lint", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "gdo-rfc-lint-"));
    await mkdir(join(dir, "rfcs"));
    await writeFile(join(dir, "rfcs", "0001-one.md"), rfc(1));
    await writeFile(join(dir, "rfcs", "0002-two.md"), rfc(2, "requires: [1]\n"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("should pass gdo's own RFCs", async () => {
    const { code, out, err } = await gdo(["rfc", "lint"], root);
    assert.equal(out, "");
    assert.match(err, /RFCs? checked: no errors/);
    assert.equal(code, 0);
  });

  it("should lint every rfcs/*.md of the current directory by default and exit 0", async () => {
    const { code, out, err } = await gdo(["rfc", "lint"], dir);
    assert.deepEqual([code, out, err], [0, "", "2 RFCs checked: no errors\n"]);
  });

  it("should print file:line:column, severity, rule and message, and exit 1 on errors", async () => {
    const bad = join(dir, "bad");
    await mkdir(join(bad, "rfcs"), { recursive: true });
    await writeFile(join(bad, "rfcs", "0001-one.md"), rfc(1));
    await writeFile(
      join(bad, "rfcs", "0003-three.md"),
      rfc(3, "requires: [1, 7]\n").replace("status: draft", "status: Draft"),
    );
    const { code, out, err } = await gdo(["rfc", "lint"], bad);
    assert.equal(code, 1);
    assert.equal(
      out,
      [
        "rfcs/0003-three.md:4:9  error  unknown-status  unknown status 'Draft' (did you mean 'draft'?); known: draft, proposed, last-call, accepted, rejected, withdrawn, final, obsoleted, superseded",
        "rfcs/0003-three.md:7:15  error  requires-missing  'requires' names RFC 7, which does not exist",
        "",
      ].join("\n"),
    );
    assert.equal(err, "gdo: 2 errors in 1 file [rfc-lint]\n");
  });

  it("should lint only the files given", async () => {
    await writeFile(join(dir, "loose.md"), "no front matter\n");
    const { code, out } = await gdo(["rfc", "lint", "rfcs/0001-one.md", "loose.md"], dir);
    assert.equal(code, 1);
    assert.equal(
      out,
      [
        "loose.md:1:1  error  front-matter-missing  file does not start with a '---' YAML front matter block",
        "loose.md:1:1  error  file-name  file name 'loose.md' must be NNNN-slug.md (number padded to 4 digits, slug of a-z, 0-9 and '-')",
        "",
      ].join("\n"),
    );
  });

  it("should refuse a 50 MB file without reading it", async () => {
    const huge = join(dir, "0009-huge.md");
    await writeFile(huge, "");
    await truncate(huge, 50 * 1024 * 1024);
    const start = performance.now();
    const { code, out } = await gdo(["rfc", "lint", "0009-huge.md"], dir);
    assert.ok(performance.now() - start < 1000);
    assert.equal(code, 1);
    assert.match(out, /^0009-huge\.md:1:1 {2}error {2}file-too-large {2}file is 52428800 bytes/);
    await rm(huge);
  });

  it("should take the size limit from --max-bytes", async () => {
    const { code, out } = await gdo(["rfc", "lint", "--max-bytes", "10", "rfcs/0001-one.md"], dir);
    assert.equal(code, 1);
    assert.match(out, /file-too-large/);
    assert.equal((await gdo(["rfc", "lint", "--max-bytes", "ten"], dir)).code, 2);
  });

  it("should exit 3 for a file that does not exist, or nothing to lint", async () => {
    const missing = await gdo(["rfc", "lint", "rfcs/0404-missing.md"], dir);
    assert.equal(missing.code, 3);
    assert.match(missing.err, /no such file: rfcs\/0404-missing\.md/);
    const empty = await mkdtemp(join(tmpdir(), "gdo-rfc-empty-"));
    try {
      assert.equal((await gdo(["rfc", "lint"], empty)).code, 3);
    } finally {
      await rm(empty, { recursive: true });
    }
  });

  it("should exit 0 when there are only warnings", async () => {
    const warn = join(dir, "warn");
    await mkdir(join(warn, "rfcs"), { recursive: true });
    await writeFile(
      join(warn, "rfcs", "0001-one.md"),
      rfc(1).replace("status: draft", "status: last-call"),
    );
    const { code, out, err } = await gdo(["rfc", "lint"], warn);
    assert.equal(code, 0);
    assert.match(out, /0001-one\.md:4:1 {2}warning {2}last-call-deadline-missing/);
    assert.equal(err, "1 RFC checked: no errors, 1 warning\n");
  });
});
