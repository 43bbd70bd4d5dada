/**
 * SSH wire encoding (RFC 4253 §5: `uint32` big-endian, `string` = uint32 length + bytes),
 * strict base64 and PEM-style armor, shared by `sshkey.ts` and `sshsig.ts`.
 * Every decoder takes a `fail(reason)` callback so each caller throws its own error type.
 */

export type Fail = (reason: string) => never;

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder("utf-8", { fatal: true });

export function bytesOf(text: string): Uint8Array {
  return utf8.encode(text);
}

/** `uint32` big-endian. */
export function u32(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value);
  return out;
}

/** SSH `string`: uint32 length, then the bytes (a JS string is encoded as UTF-8). */
export function sshString(value: Uint8Array | string): Uint8Array {
  const bytes = typeof value === "string" ? utf8.encode(value) : value;
  const out = new Uint8Array(4 + bytes.length);
  new DataView(out.buffer).setUint32(0, bytes.length);
  out.set(bytes, 4);
  return out;
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Sequential reader over SSH wire data; every overrun or leftover calls `fail`. */
export class WireReader {
  readonly bytes: Uint8Array;
  offset = 0;
  readonly #fail: Fail;
  readonly #view: DataView;

  constructor(bytes: Uint8Array, fail: Fail) {
    this.bytes = bytes;
    this.#fail = fail;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  raw(length: number, what: string): Uint8Array {
    if (this.remaining < length) {
      this.#fail(`${what} is truncated (needs ${length} bytes, ${this.remaining} left)`);
    }
    const out = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    return out;
  }

  u32(what: string): number {
    if (this.remaining < 4)
      this.#fail(`${what} is truncated (needs 4 bytes, ${this.remaining} left)`);
    const value = this.#view.getUint32(this.offset);
    this.offset += 4;
    return value;
  }

  string(what: string): Uint8Array {
    const length = this.u32(`length of ${what}`);
    if (length > this.remaining) {
      this.#fail(`${what} claims ${length} bytes but only ${this.remaining} are left`);
    }
    return this.raw(length, what);
  }

  /** A `string` that must be valid UTF-8 text. */
  text(what: string): string {
    const bytes = this.string(what);
    try {
      return utf8Strict.decode(bytes);
    } catch {
      return this.#fail(`${what} is not valid UTF-8`);
    }
  }

  /** A `string` whose content must be exactly `expected` (e.g. a key type name). */
  expectText(expected: string, what: string): void {
    const bytes = this.string(what);
    if (!bytesEqual(bytes, utf8.encode(expected))) {
      this.#fail(
        `${what} is ${JSON.stringify(printable(bytes))}, expected ${JSON.stringify(expected)}`,
      );
    }
  }

  end(what: string): void {
    if (this.remaining !== 0)
      this.#fail(`${this.remaining} unexpected trailing bytes after ${what}`);
  }
}

/** Bytes shown in an error message: printable ASCII kept, the rest escaped, long values cut. */
export function printable(bytes: Uint8Array, max = 40): string {
  let out = "";
  for (const byte of bytes.subarray(0, max)) {
    out +=
      byte >= 0x20 && byte < 0x7f
        ? String.fromCharCode(byte)
        : `\\x${byte.toString(16).padStart(2, "0")}`;
  }
  return bytes.length > max ? `${out}…` : out;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Standard base64 (with padding), canonical only: no whitespace, no URL alphabet,
 * correct padding and zero unused bits (so one byte string has exactly one encoding).
 */
export function decodeBase64Strict(text: string, what: string, fail: Fail): Uint8Array {
  if (!BASE64.test(text)) fail(`${what} is not valid base64`);
  const bytes = Buffer.from(text, "base64");
  if (bytes.toString("base64") !== text)
    fail(`${what} is not canonical base64 (non-zero padding bits)`);
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

/** `-----BEGIN label-----\n` + base64 wrapped at `width` + `\n-----END label-----\n`, as OpenSSH writes it. */
export function armor(label: string, bytes: Uint8Array, width = 70): string {
  const body = encodeBase64(bytes);
  const lines = [`-----BEGIN ${label}-----`];
  for (let i = 0; i < body.length; i += width) lines.push(body.slice(i, i + width));
  lines.push(`-----END ${label}-----`, "");
  return lines.join("\n");
}

/**
 * The bytes inside an armor. The text must start with the BEGIN line; the body may be
 * wrapped at any width (whitespace inside it is ignored, as OpenSSH does); only whitespace
 * may follow the END line. The base64 itself must be canonical.
 */
export function dearmor(text: string, label: string, fail: Fail): Uint8Array {
  const begin = `-----BEGIN ${label}-----`;
  const end = `-----END ${label}-----`;
  if (!text.startsWith(begin)) {
    const firstLine = text.trimStart().split(/\r?\n/, 1)[0] ?? "";
    if (firstLine.startsWith("-----BEGIN ")) {
      fail(`expected ${JSON.stringify(begin)}, found ${JSON.stringify(firstLine.slice(0, 60))}`);
    }
    fail(`does not start with ${JSON.stringify(begin)}`);
  }
  const afterBegin = text.slice(begin.length);
  if (!/^\r?\n/.test(afterBegin)) fail(`no line break after ${JSON.stringify(begin)}`);
  const endAt = afterBegin.indexOf(end);
  if (endAt < 0) fail(`no ${JSON.stringify(end)} line`);
  const before = afterBegin.slice(0, endAt);
  if (!/\n$/.test(before)) fail(`${JSON.stringify(end)} does not start a line`);
  if (afterBegin.slice(endAt + end.length).trim() !== "")
    fail(`unexpected text after ${JSON.stringify(end)}`);
  const body = before.replace(/[ \t\r\n]/g, "");
  if (body === "") fail("empty armor body");
  return decodeBase64Strict(body, "armor body", fail);
}
