/**
 * Checks every decision (and approval) shown on the page in the reader's
 * browser: its signature must verify against the key that the site's members
 * list publishes for its signer, the payload's committer must be that member,
 * and the payload with its signature must hash to the block id shown. Each
 * proof's badge then reads "verified" or says why it failed.
 */
import { commitId, committerOf, verifySshsig } from "./sshsig.ts";

interface Proof {
  kind?: "block" | "approval";
  block: string;
  signer: string;
  payload: string;
  signature: string;
}

// The site's root as an absolute path: the meta holds it relative to this page.
const base = new URL(
  document.querySelector<HTMLMetaElement>('meta[name="gdo-base"]')?.content ?? "/",
  location.href,
).pathname;
const proofs = [...document.querySelectorAll<HTMLElement>("[data-proof]")];

async function memberKeys(): Promise<Map<string, string>> {
  const response = await fetch(`${base}api/members.json`);
  if (!response.ok) throw new Error(`members list: HTTP ${response.status}`);
  const members = (await response.json()) as Array<{ name: string; key: string }>;
  return new Map(members.map((m) => [m.name, m.key]));
}

async function check(element: HTMLElement, keys: Map<string, string>): Promise<string | undefined> {
  const source = element.querySelector<HTMLScriptElement>('script[type="application/json"]');
  if (!source) return "no signed data on the page";
  let proof: Proof;
  try {
    proof = JSON.parse(source.textContent ?? "") as Proof;
  } catch {
    return "the signed data is not readable";
  }
  if (proof.block !== element.dataset.block || proof.signer !== element.dataset.signer)
    return "the block or signer shown differs from the signed data";
  // What a person reads must be what is checked.
  const shownPayload = element.querySelector(":scope > details > pre.payload")?.textContent;
  const shownSignature = element.querySelector(":scope > details > pre.signature")?.textContent;
  if (shownPayload !== proof.payload || shownSignature !== proof.signature)
    return "the payload or signature shown differs from the signed data";
  const key = keys.get(proof.signer);
  if (!key) return `'${proof.signer}' is not a published member`;
  if (proof.kind === "approval") {
    const verdict = await verifySshsig({
      payload: new TextEncoder().encode(proof.payload),
      armored: proof.signature,
      keyLine: key,
      namespace: "gdo-approval",
    });
    return verdict.ok ? undefined : verdict.reason;
  }
  if (committerOf(proof.payload) !== proof.signer) return "the payload names another signer";
  const subject = element.querySelector<HTMLElement>("[data-subject]");
  const message = proof.payload.slice(proof.payload.indexOf("\n\n") + 2).split("\n", 1)[0];
  if (subject && subject.textContent?.trim() !== message?.trim())
    return "the message shown differs from the signed one";
  const verdict = await verifySshsig({
    payload: new TextEncoder().encode(proof.payload),
    armored: proof.signature,
    keyLine: key,
  });
  if (!verdict.ok) return verdict.reason;
  if ((await commitId(proof.payload, proof.signature)) !== proof.block)
    return "the signed data does not hash to the block id shown";
  return undefined;
}

async function run() {
  if (proofs.length === 0) return;
  let keys: Map<string, string>;
  try {
    keys = await memberKeys();
  } catch (error) {
    for (const element of proofs)
      show(element, `cannot load member keys (${(error as Error).message})`);
    return;
  }
  for (const element of proofs) show(element, await check(element, keys));
}

function show(element: HTMLElement, failure: string | undefined) {
  const badge = element.querySelector<HTMLElement>(".verify");
  if (!badge) return;
  badge.dataset.state = failure ? "failed" : "verified";
  badge.textContent = failure ? `verification failed: ${failure}` : "verified";
  element.dataset.verified = failure ? "failed" : "verified";
}

run();
