import assert from "node:assert/strict";
import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { FileExistsError, writeFileAtomic } from "../../ledger/atomic-file.ts";
import { NotFoundError } from "../../ledger/errors.ts";
import { KeyExistsError } from "../../ledger/key-errors.ts";
import { defaultKeyPath, readKeyFile, writeKeyFile } from "../../ledger/keyfile.ts";
import { generateKey, serializePrivateKey } from "../../ledger/sshkey.ts";
import { sshKeygen, sshKeygenKey, tempDir } from "../helpers/ssh.ts";
import { needs } from "../helpers/system.ts";

const modeOf = (path: string) => statSync(path).mode & 0o777;

describe("writeFileAtomic", () => {
  test("writes the data and leaves no temp file behind", async () => {
    const dir = tempDir();
    const path = join(dir, "file.txt");
    await writeFileAtomic({ path, data: "one\n" });
    await writeFileAtomic({ path, data: new TextEncoder().encode("two\n") });
    assert.equal(readFileSync(path, "utf8"), "two\n");
    assert.deepEqual(readdirSync(dir), ["file.txt"]);
  });

  test("applies the requested mode exactly, whatever the umask", async () => {
    const dir = tempDir();
    const old = process.umask(0o000);
    try {
      await writeFileAtomic({ path: join(dir, "secret"), data: "s", mode: 0o600 });
      await writeFileAtomic({ path: join(dir, "shared"), data: "s", mode: 0o640 });
    } finally {
      process.umask(old);
    }
    assert.equal(modeOf(join(dir, "secret")), 0o600);
    assert.equal(modeOf(join(dir, "shared")), 0o640);
  });

  test("keeps the mode of a file it replaces when no mode is given", async () => {
    const dir = tempDir();
    const path = join(dir, "script");
    writeFileSync(path, "old");
    chmodSync(path, 0o751);
    await writeFileAtomic({ path, data: "new" });
    assert.equal(modeOf(path), 0o751);
    assert.equal(readFileSync(path, "utf8"), "new");
  });

  test("with overwrite: false refuses an existing file and leaves it untouched", async () => {
    const dir = tempDir();
    const path = join(dir, "keep");
    writeFileSync(path, "original");
    await assert.rejects(
      writeFileAtomic({ path, data: "new", overwrite: false }),
      (error: unknown) => {
        assert.ok(error instanceof FileExistsError);
        assert.equal(error.code, "file-exists");
        assert.equal(error.data.path, path);
        return true;
      },
    );
    assert.equal(readFileSync(path, "utf8"), "original");
    assert.deepEqual(readdirSync(dir), ["keep"]);
  });

  test("of many concurrent no-overwrite writers exactly one wins", async () => {
    const dir = tempDir();
    const path = join(dir, "race");
    const results = await Promise.allSettled(
      Array.from({ length: 12 }, (_, i) =>
        writeFileAtomic({ path, data: `writer ${i}`, overwrite: false }),
      ),
    );
    const winners = results.filter((r) => r.status === "fulfilled");
    assert.equal(winners.length, 1);
    for (const r of results) {
      if (r.status === "rejected") assert.ok(r.reason instanceof FileExistsError);
    }
    assert.match(readFileSync(path, "utf8"), /^writer \d+$/);
    assert.deepEqual(readdirSync(dir), ["race"]);
  });

  test("fails (without leaving a temp file) when the folder does not exist", async () => {
    const dir = tempDir();
    await assert.rejects(writeFileAtomic({ path: join(dir, "missing", "f"), data: "x" }), {
      code: "ENOENT",
    });
    assert.deepEqual(readdirSync(dir), []);
  });
});

describe("key files", () => {
  test("the default key path is <data>/key", () => {
    assert.equal(defaultKeyPath("/srv/node/.gdo"), "/srv/node/.gdo/key");
  });

  test("a written key reads back, with the private file 0600 and the .pub line 0644", async () => {
    const dir = tempDir();
    const path = join(dir, "data", "key");
    const key = generateKey("node@test");
    await writeKeyFile({ path, key });
    assert.equal(modeOf(path), 0o600);
    assert.equal(modeOf(`${path}.pub`), 0o644);
    assert.equal(modeOf(join(dir, "data")), 0o700);
    assert.equal(readFileSync(`${path}.pub`, "utf8"), `${key.publicKey.toString()}\n`);
    const back = await readKeyFile(path);
    assert.ok(back.publicKey.equals(key.publicKey));
    assert.deepEqual(back.seed, key.seed);
    assert.equal(back.comment, "node@test");
    assert.deepEqual(readdirSync(join(dir, "data")).sort(), ["key", "key.pub"]);
  });

  test("an existing key is never replaced unless overwrite is true", async () => {
    const dir = tempDir();
    const path = join(dir, "key");
    const first = generateKey("first");
    await writeKeyFile({ path, key: first });
    await assert.rejects(writeKeyFile({ path, key: generateKey("second") }), (error: unknown) => {
      assert.ok(error instanceof KeyExistsError);
      assert.equal(error.code, "key-exists");
      assert.match(error.message, /--force/);
      return true;
    });
    assert.ok((await readKeyFile(path)).publicKey.equals(first.publicKey));
    const second = generateKey("second");
    await writeKeyFile({ path, key: second, overwrite: true });
    assert.ok((await readKeyFile(path)).publicKey.equals(second.publicKey));
    assert.equal(modeOf(path), 0o600);
    assert.equal(readFileSync(`${path}.pub`, "utf8"), `${second.publicKey}\n`);
  });

  test("given text, the exact bytes are written (and must hold the same key)", async () => {
    const dir = tempDir();
    const key = generateKey("t");
    const text = serializePrivateKey(key, { checkint: 42 });
    await writeKeyFile({ path: join(dir, "key"), key, text });
    assert.equal(readFileSync(join(dir, "key"), "utf8"), text);
    await assert.rejects(
      writeKeyFile({ path: join(dir, "other"), key: generateKey("u"), text }),
      TypeError,
    );
  });

  test("a missing key file is a not-found error naming the file and how to make one", async () => {
    const dir = tempDir();
    const path = join(dir, "nope", "key");
    await assert.rejects(readKeyFile(path), (error: unknown) => {
      assert.ok(error instanceof NotFoundError);
      assert.equal(error.code, "not-found");
      assert.ok(error.message.startsWith(`${path}: `));
      assert.match(error.message, /gdo key new/);
      return true;
    });
  });

  test("a folder, a huge file or garbage is a key-format error naming the file", async () => {
    const dir = tempDir();
    mkdirSync(join(dir, "folder"));
    writeFileSync(join(dir, "huge"), Buffer.alloc(100_000, 0x41));
    writeFileSync(join(dir, "garbage"), "hello");
    for (const name of ["folder", "huge", "garbage"]) {
      const path = join(dir, name);
      await assert.rejects(readKeyFile(path), (error: unknown) => {
        assert.equal((error as { code: string }).code, "key-format");
        assert.ok((error as Error).message.startsWith(`${path}: `));
        return true;
      });
    }
  });

  test("an ssh-keygen key file reads, and a passphrase-protected one is key-encrypted", {
    skip: needs("ssh-keygen"),
  }, async () => {
    const dir = tempDir();
    const plain = sshKeygenKey(dir, "plain");
    assert.equal((await readKeyFile(plain.path)).publicKey.toString(), plain.pubLine);
    const locked = sshKeygenKey(dir, "locked", { passphrase: "pw" });
    await assert.rejects(readKeyFile(locked.path), {
      code: "key-encrypted",
      data: { source: locked.path, cipher: "aes256-ctr", kdf: "bcrypt" },
    });
  });

  test("a key written by writeKeyFile is usable by ssh-keygen", {
    skip: needs("ssh-keygen"),
  }, async () => {
    const dir = tempDir();
    const key = generateKey("w");
    await writeKeyFile({ path: join(dir, "key"), key });
    const run = sshKeygen(["-y", "-f", join(dir, "key")]);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout.trim(), key.publicKey.toString());
  });
});
