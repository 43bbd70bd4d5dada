import type { Ledger } from "../ledger/ledger.ts";
import type { SshPrivateKey } from "../ledger/sshkey.ts";

const text = (s: string) => new TextEncoder().encode(s);

/**
 * Appends blocks `from`..`to` (inclusive), one log file each, signed by
 * `key`. Logs fan out in folders of 100 files, as a door's daily logs would.
 */
export async function appendSwipes(
  ledger: Ledger,
  key: SshPrivateKey,
  from: number,
  to: number,
): Promise<void> {
  for (let i = from; i <= to; i++) {
    await ledger.commit({
      key,
      message: `swipe ${i}`,
      edits: [
        { path: `logs/alice/${Math.floor(i / 100)}/${i % 100}.log`, content: text(`badge ${i}\n`) },
      ],
    });
  }
}
