/**
 * SSHSIG verification for the reader's browser (no Node APIs: WebCrypto and
 * @noble/ed25519 only), so a page's decisions can be checked against the
 * member keys the site publishes. Layout: /work/shared/vectors/sshsig/FORMAT.md.
 *
 * ```
 * blob   = "SSHSIG" u32(1) string(publickey) string(namespace) string(reserved)
 *          string(hash) string(signature)
 * signed = "SSHSIG" string("git") string("") string("sha512") string(SHA-512(payload))
 * ```
 *
 * The verdict is strict where it matters: namespace "git", hash sha512, an
 * ed25519 key byte-identical to the member's published key, and a valid
 * ed25519 signature over `signed`.
 */
import { verifyAsync } from "@noble/ed25519";

export type Verdict = { ok: true } | { ok: false; reason: string };

const encoder = new TextEncoder();

function base64(text: string): Uint8Array {
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function sshString(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + bytes.length);
  new DataView(out.buffer).setUint32(0, bytes.length);
  out.set(bytes, 4);
  return out;
}

class Reader {
  at = 0;
  readonly bytes: Uint8Array;
  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }
  take(n: number): Uint8Array {
    if (this.at + n > this.bytes.length) throw new Error("truncated signature");
    const out = this.bytes.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }
  u32(): number {
    const b = this.take(4);
    return new DataView(b.buffer, b.byteOffset, 4).getUint32(0);
  }
  string(): Uint8Array {
    return this.take(this.u32());
  }
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** The raw 32-byte key of an `ssh-ed25519 AAAA… [comment]` line. */
export function ed25519KeyOfLine(line: string): Uint8Array {
  const [type, data] = line.trim().split(/\s+/);
  if (type !== "ssh-ed25519" || !data) throw new Error("not an ssh-ed25519 key line");
  const r = new Reader(base64(data));
  if (text(r.string()) !== "ssh-ed25519") throw new Error("key blob is not ssh-ed25519");
  const key = r.string();
  if (key.length !== 32 || r.at !== r.bytes.length) throw new Error("malformed ed25519 key");
  return key;
}

/**
 * Verifies an armored SSHSIG over `payload` against a published key line.
 * Namespace "git" for blocks (default), "gdo-approval" for approvals.
 */
export async function verifySshsig({
  payload,
  armored,
  keyLine,
  namespace: expected = "git",
}: {
  payload: Uint8Array;
  armored: string;
  keyLine: string;
  namespace?: string;
}): Promise<Verdict> {
  try {
    const body = armored
      .trim()
      .replace(/^-----BEGIN SSH SIGNATURE-----/, "")
      .replace(/-----END SSH SIGNATURE-----$/, "")
      .replace(/\s+/g, "");
    const r = new Reader(base64(body));
    if (text(r.take(6)) !== "SSHSIG") return { ok: false, reason: "not an SSH signature" };
    if (r.u32() !== 1) return { ok: false, reason: "unsupported SSHSIG version" };
    const keyBlob = new Reader(r.string());
    const namespace = text(r.string());
    r.string(); // reserved: signed as empty whatever it holds; the ledger accepts only empty
    const hash = text(r.string());
    const sigBlob = new Reader(r.string());
    if (r.at !== r.bytes.length) return { ok: false, reason: "trailing bytes after the signature" };
    if (text(keyBlob.string()) !== "ssh-ed25519")
      return { ok: false, reason: "not an ed25519 key" };
    const signerKey = keyBlob.string();
    if (namespace !== expected)
      return { ok: false, reason: `namespace '${namespace}', expected '${expected}'` };
    if (hash !== "sha512") return { ok: false, reason: `hash '${hash}', expected sha512` };
    if (text(sigBlob.string()) !== "ssh-ed25519")
      return { ok: false, reason: "not an ed25519 signature" };
    const signature = sigBlob.string();
    const published = ed25519KeyOfLine(keyLine);
    if (!equal(signerKey, published))
      return { ok: false, reason: "signed by a key other than the member's published key" };
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-512", payload.slice()));
    const signed = concat([
      encoder.encode("SSHSIG"),
      sshString(encoder.encode(expected)),
      sshString(new Uint8Array(0)),
      sshString(encoder.encode("sha512")),
      sshString(digest),
    ]);
    const valid = await verifyAsync(signature, signed, published);
    return valid ? { ok: true } : { ok: false, reason: "the signature does not match the payload" };
  } catch (error) {
    return { ok: false, reason: (error as Error).message };
  }
}

/**
 * The block id a signed payload and signature make: git's SHA-1 over
 * `commit <len>\0` and the commit with the signature folded into a gpgsig
 * header after the committer line (see ledger/commit.ts).
 */
export async function commitId(payload: string, armored: string): Promise<string> {
  const split = payload.indexOf("\n\n");
  if (split < 0) throw new Error("payload has no message");
  const armor = armored.endsWith("\n") ? armored.slice(0, -1) : armored;
  const commit = encoder.encode(
    `${payload.slice(0, split)}\ngpgsig ${armor.split("\n").join("\n ")}\n${payload.slice(split + 1)}`,
  );
  const object = concat([encoder.encode(`commit ${commit.length}\0`), commit]);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-1", object.slice()));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The committer name recorded in a payload. */
export function committerOf(payload: string): string | undefined {
  return /^committer ([^<\n]+) </m.exec(payload.slice(0, payload.indexOf("\n\n")))?.[1];
}
