import assert from "node:assert/strict";
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { parsePrivateKey, parsePublicKey } from "../../ledger/sshkey.ts";
import { gdo } from "../helpers/cli.ts";
import { sshKeygen, sshKeygenKey, tempDir } from "../helpers/ssh.ts";
import { needs } from "../helpers/system.ts";

const modeOf = (path: string) => statSync(path).mode & 0o777;

describe("gdo key new", () => {
  test("creates <data>/key (0600) and key.pub, and prints the public line", async () => {
    const cwd = tempDir();
    const run = await gdo(["key", "new", "--comment", "alice@org"], cwd);
    assert.equal(run.code, 0, run.err);
    const keyPath = join(cwd, ".gdo", "key");
    assert.equal(modeOf(keyPath), 0o600);
    assert.equal(modeOf(`${keyPath}.pub`), 0o644);
    const key = parsePrivateKey(readFileSync(keyPath, "utf8"), keyPath);
    assert.equal(run.out, `${key.publicKey.toString()}\n`);
    assert.equal(key.comment, "alice@org");
    assert.equal(readFileSync(`${keyPath}.pub`, "utf8"), run.out);
    assert.match(run.err, /wrote private key/);
  });

  test("uses --data, GDO_DATA, --key and GDO_KEY to place the key", async () => {
    const cwd = tempDir();
    assert.equal((await gdo(["key", "new", "--data", "d1"], cwd)).code, 0);
    assert.ok(existsSync(join(cwd, "d1", "key")));
    assert.equal((await gdo(["key", "new"], cwd, { GDO_DATA: "d2" })).code, 0);
    assert.ok(existsSync(join(cwd, "d2", "key")));
    assert.equal((await gdo(["key", "new", "--key", "keys/mine"], cwd)).code, 0);
    assert.equal(modeOf(join(cwd, "keys", "mine")), 0o600);
    assert.equal((await gdo(["key", "new"], cwd, { GDO_KEY: "env-key" })).code, 0);
    assert.ok(existsSync(join(cwd, "env-key.pub")));
  });

  test("refuses to replace an existing key (exit 3, key-exists) unless --force", async () => {
    const cwd = tempDir();
    const first = await gdo(["key", "new"], cwd);
    const again = await gdo(["key", "new"], cwd);
    assert.equal(again.code, 3);
    assert.match(again.err, /already exists.*--force.*\[key-exists\]/);
    assert.equal((await gdo(["key", "show"], cwd)).out.split("\n")[0], first.out.trim());
    const forced = await gdo(["key", "new", "--force"], cwd);
    assert.equal(forced.code, 0);
    assert.notEqual(forced.out, first.out);
    assert.equal(modeOf(join(cwd, ".gdo", "key")), 0o600);
  });

  test("rejects stray arguments and unknown flags with exit 2", async () => {
    const cwd = tempDir();
    assert.equal((await gdo(["key", "new", "extra"], cwd)).code, 2);
    assert.equal((await gdo(["key", "new", "--nope"], cwd)).code, 2);
    assert.equal((await gdo(["key", "frobnicate"], cwd)).code, 2);
    assert.equal(existsSync(join(cwd, ".gdo")), false);
  });

  test("makes a key ssh-keygen reads", { skip: needs("ssh-keygen") }, async () => {
    const cwd = tempDir();
    const run = await gdo(["key", "new", "--comment", "x"], cwd);
    const printed = sshKeygen(["-y", "-f", join(cwd, ".gdo", "key")]);
    assert.equal(printed.status, 0, printed.stderr);
    assert.equal(printed.stdout, run.out);
  });
});

describe("gdo key show", () => {
  test("prints the public line and the fingerprint", async () => {
    const cwd = tempDir();
    const made = await gdo(["key", "new", "--comment", "c"], cwd);
    const run = await gdo(["key", "show"], cwd);
    assert.equal(run.code, 0);
    const key = parsePublicKey(made.out);
    assert.equal(run.out, `${made.out}${key.fingerprint}\n`);
    assert.match(run.out.split("\n")[1]!, /^SHA256:[A-Za-z0-9+/]{43}$/);
  });

  test("without a key: exit 3, not-found, naming the file", async () => {
    const cwd = tempDir();
    const run = await gdo(["key", "show"], cwd);
    assert.equal(run.code, 3);
    assert.ok(run.err.includes(join(cwd, ".gdo", "key")));
    assert.match(run.err, /\[not-found\]/);
  });
});

describe("gdo key import", { skip: needs("ssh-keygen") }, () => {
  test("copies an ssh-keygen key byte for byte to the key path with 0600, and its .pub", async () => {
    const cwd = tempDir();
    const made = sshKeygenKey(cwd, "id_ed25519", { comment: "me@laptop" });
    chmodSync(made.path, 0o644);
    const run = await gdo(["key", "import", "id_ed25519"], cwd);
    assert.equal(run.code, 0, run.err);
    assert.equal(run.out, `${made.pubLine}\n`);
    const keyPath = join(cwd, ".gdo", "key");
    assert.equal(readFileSync(keyPath, "utf8"), made.text);
    assert.equal(modeOf(keyPath), 0o600);
    assert.equal(readFileSync(`${keyPath}.pub`, "utf8"), `${made.pubLine}\n`);
    assert.equal((await gdo(["key", "show"], cwd)).out.split("\n")[0], made.pubLine);
  });

  test("refuses a passphrase-protected key with exit 3 and the way out", async () => {
    const cwd = tempDir();
    const made = sshKeygenKey(cwd, "locked", { passphrase: "secret" });
    const run = await gdo(["key", "import", made.path], cwd);
    assert.equal(run.code, 3);
    assert.match(
      run.err,
      /passphrase.*ssh-keygen -p -N "" -f .*locked.*gdo key new.*\[key-encrypted\]/,
    );
    assert.equal(existsSync(join(cwd, ".gdo", "key")), false);
  });

  test("refuses a public key, a non-ed25519 key or a missing file, writing nothing", async () => {
    const cwd = tempDir();
    const made = sshKeygenKey(cwd, "rsa", { type: "rsa" });
    const ed = sshKeygenKey(cwd, "ed");
    writeFileSync(join(cwd, "junk"), "not a key");
    const cases: [string, number, RegExp][] = [
      [ed.pubPath, 3, /this is a public key.*\[key-format\]/],
      [made.path, 3, /key type is "ssh-rsa".*\[key-format\]/],
      ["junk", 3, /\[key-format\]/],
      ["absent", 3, /no such file.*\[not-found\]/],
    ];
    for (const [file, code, message] of cases) {
      const run = await gdo(["key", "import", file], cwd);
      assert.equal(run.code, code, file);
      assert.match(run.err, message);
    }
    assert.equal(existsSync(join(cwd, ".gdo")), false);
  });

  test("will not replace an existing key unless --force; needs exactly one FILE", async () => {
    const cwd = tempDir();
    const made = sshKeygenKey(cwd, "k2");
    await gdo(["key", "new"], cwd);
    const refused = await gdo(["key", "import", made.path], cwd);
    assert.equal(refused.code, 3);
    assert.match(refused.err, /\[key-exists\]/);
    assert.equal((await gdo(["key", "import", made.path, "--force"], cwd)).code, 0);
    assert.equal(readFileSync(join(cwd, ".gdo", "key"), "utf8"), made.text);
    assert.equal((await gdo(["key", "import"], cwd)).code, 2);
    assert.equal((await gdo(["key", "import", "a", "b"], cwd)).code, 2);
  });
});
