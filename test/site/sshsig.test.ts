import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { serializePayload, serializeSignedCommit } from "../../ledger/commit.ts";
import { generateKey } from "../../ledger/sshkey.ts";
import { signSshsig } from "../../ledger/sshsig.ts";
import { commitId, committerOf, verifySshsig } from "../../site/client/sshsig.ts";

const vectors = "/work/shared/vectors/sshsig/openssh-testdata";
const encoder = new TextEncoder();

function block() {
  const key = generateKey("alice");
  const who = { name: "alice", email: "alice@x.gdo", timestamp: 1_790_000_000, timezoneOffset: 0 };
  const fields = {
    tree: "4b825dc642cb6eb9a060e54bf8d69288fbee4904",
    parents: [],
    author: who,
    committer: who,
    message: "RFC 1: draft → proposed\n\nGdo-Ledger: 00112233445566778899aabbccddeeff\n",
  };
  const payload = serializePayload(fields);
  const signature = signSshsig({ message: payload, key, namespace: "git" });
  const full = serializeSignedCommit(fields, signature);
  const oid = createHash("sha1").update(`commit ${full.length}\0`).update(full).digest("hex");
  return { key, payload, signature, oid };
}

describe("in-browser SSHSIG verification", () => {
  it("should accept OpenSSH's own ed25519 test vector", async () => {
    const verdict = await verifySshsig({
      payload: readFileSync(`${vectors}/signed-data`),
      armored: readFileSync(`${vectors}/ed25519.sig`, "utf8"),
      keyLine: readFileSync(`${vectors}/ed25519.pub`, "utf8"),
      namespace: readFileSync(`${vectors}/namespace`, "utf8").trim(),
    });
    assert.deepEqual(verdict, { ok: true });
  });

  it("should accept a block signed by the ledger and recompute its id", async () => {
    const { key, payload, signature, oid } = block();
    assert.deepEqual(
      await verifySshsig({ payload, armored: signature, keyLine: key.publicKey.keyText }),
      { ok: true },
    );
    const text = new TextDecoder().decode(payload);
    assert.equal(await commitId(text, signature), oid);
    assert.equal(committerOf(text), "alice");
  });

  it("should reject a tampered payload, another member's key and another namespace", async () => {
    const { key, payload, signature } = block();
    const tampered = encoder.encode(
      new TextDecoder().decode(payload).replace("proposed", "accepted"),
    );
    const bad = await verifySshsig({
      payload: tampered,
      armored: signature,
      keyLine: key.publicKey.keyText,
    });
    assert.equal(bad.ok, false);
    const other = await verifySshsig({
      payload,
      armored: signature,
      keyLine: generateKey("mallory").publicKey.keyText,
    });
    assert.deepEqual(other, {
      ok: false,
      reason: "signed by a key other than the member's published key",
    });
    const ns = await verifySshsig({
      payload,
      armored: signature,
      keyLine: key.publicKey.keyText,
      namespace: "gdo-approval",
    });
    assert.equal(ns.ok, false);
  });

  it("should reject garbage without throwing", async () => {
    const verdict = await verifySshsig({
      payload: encoder.encode("x"),
      armored: "-----BEGIN SSH SIGNATURE-----\nAAAA\n-----END SSH SIGNATURE-----\n",
      keyLine: "ssh-ed25519 AAAA",
    });
    assert.equal(verdict.ok, false);
  });
});
