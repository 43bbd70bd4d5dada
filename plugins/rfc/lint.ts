/**
 * Single-file checks of an RFC document: its size, encoding, front matter,
 * every field and the file name. Everything found is returned as diagnostics
 * with the line and column of the offending field or value; nothing throws.
 *
 * Rule ids (stable; RFC 5 lists them with examples):
 *   file-too-large, encoding, front-matter-missing, front-matter-unclosed,
 *   yaml-syntax, duplicate-field, front-matter-not-mapping, field-missing,
 *   unknown-field, field-type, field-empty, unknown-status, date-format,
 *   url-invalid, attachment-path, self-reference, superseded-without-successor,
 *   superseded-by-status, date-order, last-call-deadline-missing (warning),
 *   file-name, file-name-number.
 */
import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  type Pair,
  parseDocument,
  type Scalar,
  type Node as YamlNode,
} from "yaml";
import type { Diagnostic, Severity } from "../api.ts";
import {
  attachmentFolder,
  DEFAULT_MAX_BYTES,
  FILE_NAME,
  type FieldKind,
  isRfcField,
  isRfcStatus,
  paddedNumber,
  RFC_FIELDS,
  RFC_STATUSES,
  type RfcField,
  type RfcFrontMatter,
} from "./format.ts";
import { findFrontMatter, locator } from "./front-matter.ts";

export interface Position {
  line: number;
  column: number;
}

export interface LintOptions {
  /** The file as it should be named in diagnostics (a ledger path, or the path given to the CLI). */
  file: string;
  /** The file's content. Bytes are checked for size before anything else. */
  content: Uint8Array | string;
  /** Size limit in bytes; default 1 MiB. */
  maxBytes?: number;
  /** Check the file name (`NNNN-slug.md`); default true. */
  checkFileName?: boolean;
}

export interface LintedRfc {
  /** The fields that passed their checks (all of them when there is no error). */
  fields: Partial<RfcFrontMatter>;
  /** Where each field (`requires`) and list item (`requires.1`) is, for later diagnostics. */
  positions: Map<string, Position>;
  diagnostics: Diagnostic[];
  /** Decoded text, when the file was small enough and valid UTF-8. */
  text?: string;
  /** Offset in `text` where the body starts, when a front matter was found. */
  bodyOffset?: number;
}

const decoder = new TextDecoder("utf-8", { fatal: true });

/** Lints one RFC document. Pure: the content is passed in. */
export function lintRfc(options: LintOptions): LintedRfc {
  const { file } = options;
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const out: LintedRfc = { fields: {}, positions: new Map(), diagnostics: [] };
  const report = (
    ruleId: string,
    reason: string,
    at: Position = { line: 1, column: 1 },
    field?: string,
    severity: Severity = "error",
  ) => {
    out.diagnostics.push({
      file,
      line: at.line,
      column: at.column,
      ruleId,
      reason,
      severity,
      ...(field === undefined ? {} : { field }),
    });
  };

  const content = options.content;
  // A string has at least as many bytes as UTF-16 units: huge ones are refused unmeasured.
  const size =
    typeof content === "string"
      ? content.length > maxBytes
        ? content.length
        : utf8Length(content)
      : content.byteLength;
  if (size > maxBytes) {
    const atLeast = typeof content === "string" && content.length > maxBytes;
    out.diagnostics.push(tooLarge(file, size, maxBytes, atLeast));
    return out;
  }
  let text: string;
  if (typeof content === "string") text = content;
  else {
    try {
      text = decoder.decode(content);
    } catch {
      report("encoding", "file is not valid UTF-8");
      return out;
    }
  }
  out.text = text;
  const checkName = () => {
    if (options.checkFileName !== false) checkFileName(file, out.fields.rfc, report);
  };

  const search = findFrontMatter(text);
  if (!search.found) {
    if (search.why === "missing")
      report("front-matter-missing", "file does not start with a '---' YAML front matter block");
    else report("front-matter-unclosed", "front matter opened with '---' is never closed");
    checkName();
    return out;
  }
  out.bodyOffset = search.bodyOffset;
  const at = locator(text.slice(0, search.bodyOffset));
  const pos = (yamlOffset: number) => at(search.yamlOffset + yamlOffset);
  const nodePos = (node: YamlNode | null | undefined, fallback: Position): Position =>
    node?.range ? pos(node.range[0]) : fallback;

  const doc = parseDocument(search.yaml, {
    prettyErrors: false,
    uniqueKeys: true,
    version: "1.2",
    schema: "core",
    strict: true,
  });
  for (const error of doc.errors) {
    const ruleId = error.code === "DUPLICATE_KEY" ? "duplicate-field" : "yaml-syntax";
    report(ruleId, `front matter: ${error.message}`, pos(error.pos[0]));
  }
  for (const warning of doc.warnings)
    report(
      "yaml-syntax",
      `front matter: ${warning.message}`,
      pos(warning.pos[0]),
      undefined,
      "warning",
    );
  if (doc.errors.length > 0) {
    checkName();
    return out;
  }
  const start: Position = { line: 1, column: 1 };
  const contents = doc.contents;
  const pairs: Pair[] = [];
  if (contents !== null && !(isScalar(contents) && contents.value === null)) {
    if (!isMap(contents)) {
      report(
        "front-matter-not-mapping",
        "front matter must be a mapping of fields",
        nodePos(contents, start),
      );
      checkName();
      return out;
    }
    pairs.push(...(contents.items as Pair[]));
  }

  const fields = out.fields as Record<string, unknown>;
  const seen = new Set<string>();
  for (const pair of pairs) {
    const keyNode = pair.key as YamlNode | null;
    const keyAt = nodePos(keyNode, start);
    if (!isScalar(keyNode) || typeof keyNode.value !== "string") {
      report("field-type", "field names must be plain strings", keyAt);
      continue;
    }
    const name = keyNode.value;
    seen.add(name);
    if (!isRfcField(name)) {
      report("unknown-field", `unknown field '${name}'${suggest(name)}`, keyAt, name);
      continue;
    }
    out.positions.set(name, keyAt);
    const valueNode = pair.value as YamlNode | null;
    const checked = checkValue(RFC_FIELDS[name].kind, valueNode, name, {
      report: (ruleId, reason, node) =>
        report(ruleId, reason, nodePos(node ?? valueNode, keyAt), name),
      itemAt: (index, node) => out.positions.set(`${name}.${index}`, nodePos(node, keyAt)),
    });
    if (checked !== undefined) fields[name] = checked;
  }
  for (const [name, spec] of Object.entries(RFC_FIELDS)) {
    if (spec.required && !seen.has(name))
      report("field-missing", `required field '${name}' is missing (${spec.doc})`, start, name);
  }
  checkConsistency(out, report);
  checkName();
  return out;
}

/** The `file-too-large` diagnostic, also for callers that refuse before reading a file. */
export function tooLarge(
  file: string,
  size: number,
  maxBytes: number,
  atLeast = false,
): Diagnostic {
  return {
    file,
    line: 1,
    column: 1,
    ruleId: "file-too-large",
    reason: `file is ${atLeast ? "at least " : ""}${size} bytes, over the ${maxBytes}-byte limit; not parsed`,
    severity: "error",
  };
}

type Reporter = (
  ruleId: string,
  reason: string,
  at?: Position,
  field?: string,
  severity?: Severity,
) => void;

interface ValueContext {
  report: (ruleId: string, reason: string, node?: YamlNode | null) => void;
  itemAt: (index: number, node: YamlNode | null) => void;
}

/** Checks one field's value; returns the plain value when it is valid. */
function checkValue(
  kind: FieldKind,
  node: YamlNode | null,
  name: string,
  ctx: ValueContext,
): unknown {
  const wrong = (expected: string) => {
    ctx.report("field-type", `'${name}' must be ${expected}, found ${describe(node)}`);
    return undefined;
  };
  if (isAlias(node)) return wrong("a plain value (aliases are not allowed)");
  const scalar = isScalar(node) ? (node as Scalar).value : undefined;
  switch (kind) {
    case "rfc-number":
      return isRfcNumber(scalar) ? scalar : wrong("a positive integer");
    case "string":
      if (typeof scalar !== "string") return wrong("a string");
      if (scalar.trim() === "") {
        ctx.report("field-empty", `'${name}' is empty`);
        return undefined;
      }
      return scalar;
    case "status":
      if (typeof scalar !== "string") return wrong(`one of ${RFC_STATUSES.join(", ")}`);
      if (!isRfcStatus(scalar)) {
        const hint = isRfcStatus(scalar.toLowerCase().replaceAll(" ", "-"))
          ? ` (did you mean '${scalar.toLowerCase().replaceAll(" ", "-")}'?)`
          : "";
        ctx.report(
          "unknown-status",
          `unknown status '${scalar}'${hint}; known: ${RFC_STATUSES.join(", ")}`,
        );
        return undefined;
      }
      return scalar;
    case "date":
      if (typeof scalar !== "string" || !isDate(scalar)) {
        ctx.report(
          "date-format",
          `'${name}' must be a calendar date YYYY-MM-DD, found ${describe(node)}`,
        );
        return undefined;
      }
      return scalar;
    case "url":
      if (typeof scalar !== "string") return wrong("an http(s) URL");
      if (!isHttpUrl(scalar)) {
        ctx.report("url-invalid", `'${name}' must be an http(s) URL, found '${scalar}'`);
        return undefined;
      }
      return scalar;
    case "string-list":
    case "rfc-list": {
      const expected = kind === "rfc-list" ? "a list of RFC numbers" : "a list of strings";
      if (!isSeq(node)) return wrong(expected);
      if (node.items.length === 0) {
        if (kind === "rfc-list") return [];
        ctx.report("field-empty", `'${name}' must not be empty`);
        return undefined;
      }
      const values: unknown[] = [];
      let ok = true;
      node.items.forEach((item, index) => {
        const itemNode = item as YamlNode | null;
        ctx.itemAt(index, itemNode);
        const value = isScalar(itemNode) ? itemNode.value : undefined;
        const valid =
          kind === "rfc-list"
            ? isRfcNumber(value)
            : typeof value === "string" && value.trim() !== "";
        if (!valid) {
          ok = false;
          ctx.report(
            "field-type",
            `'${name}' item ${index + 1} must be ${kind === "rfc-list" ? "a positive integer" : "a non-empty string"}, found ${describe(itemNode)}`,
            itemNode,
          );
        } else values.push(value);
      });
      return ok ? values : undefined;
    }
    case "attachment-map": {
      if (!isMap(node)) return wrong("a mapping of link → ledger path");
      const map: Record<string, string> = {};
      let ok = true;
      for (const pair of node.items as Pair[]) {
        const key = isScalar(pair.key) ? (pair.key as Scalar).value : undefined;
        const value = isScalar(pair.value) ? (pair.value as Scalar).value : undefined;
        if (typeof key !== "string" || typeof value !== "string") {
          ok = false;
          ctx.report(
            "field-type",
            `'${name}' entries must map a link (string) to a ledger path (string)`,
            pair.key as YamlNode,
          );
        } else map[key] = value;
      }
      return ok ? map : undefined;
    }
    case "mapping":
      if (!isMap(node)) return wrong("a mapping");
      return (node.toJSON() as Record<string, unknown>) ?? {};
  }
}

function checkConsistency(out: LintedRfc, report: Reporter) {
  const f = out.fields;
  const where = (name: string) => out.positions.get(name) ?? { line: 1, column: 1 };
  if (f.rfc !== undefined) {
    for (const name of ["requires", "obsoletes", "updates"] as const) {
      f[name]?.forEach((n, i) => {
        if (n === f.rfc)
          report("self-reference", `'${name}' lists this RFC itself`, where(`${name}.${i}`), name);
      });
    }
    if (f["superseded-by"] === f.rfc)
      report(
        "self-reference",
        "an RFC cannot supersede itself",
        where("superseded-by"),
        "superseded-by",
      );
    if (f.attachments) {
      const folder = attachmentFolder(f.rfc);
      for (const [link, target] of Object.entries(f.attachments)) {
        const clean =
          target.startsWith(folder) &&
          target.length > folder.length &&
          !target.split("/").some((s) => s === "" || s === "." || s === "..");
        if (!clean)
          report(
            "attachment-path",
            `attachment '${link}' must be stored under ${folder}, not '${target}'`,
            where("attachments"),
            "attachments",
          );
      }
    }
  }
  if (
    f.status === "superseded" &&
    f["superseded-by"] === undefined &&
    !out.positions.has("superseded-by")
  )
    report(
      "superseded-without-successor",
      "a superseded RFC must name its successor in 'superseded-by'",
      where("status"),
      "status",
    );
  if (f["superseded-by"] !== undefined && f.status !== undefined && f.status !== "superseded")
    report(
      "superseded-by-status",
      `'superseded-by' is set but the status is '${f.status}', not 'superseded'`,
      where("superseded-by"),
      "superseded-by",
    );
  for (const later of ["updated", "last-call-deadline"] as const) {
    const value = f[later];
    if (value !== undefined && f.created !== undefined && value < f.created)
      report(
        "date-order",
        `'${later}' (${value}) is before 'created' (${f.created})`,
        where(later),
        later,
      );
  }
  if (f.status === "last-call" && f["last-call-deadline"] === undefined)
    report(
      "last-call-deadline-missing",
      "an RFC in last call should state its 'last-call-deadline'",
      where("status"),
      "status",
      "warning",
    );
}

function checkFileName(file: string, rfc: number | undefined, report: Reporter) {
  const base = file.slice(file.lastIndexOf("/") + 1);
  const match = FILE_NAME.exec(base);
  if (!match) {
    report(
      "file-name",
      `file name '${base}' must be NNNN-slug.md (number padded to 4 digits, slug of a-z, 0-9 and '-')`,
    );
    return;
  }
  if (rfc === undefined) return;
  if (match[1] !== paddedNumber(rfc))
    report(
      "file-name-number",
      `file name starts with ${match[1]} but the front matter says rfc: ${rfc} (expected ${paddedNumber(rfc)}-…)`,
      { line: 1, column: 1 },
      "rfc",
    );
}

/** UTF-8 byte length without encoding (no Buffer: this module also runs in browsers). */
function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

function isRfcNumber(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value > 0;
}

function isDate(value: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(y, mo - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === mo - 1 && date.getUTCDate() === d;
}

function isHttpUrl(value: string): boolean {
  if (!URL.canParse(value)) return false;
  const { protocol } = new URL(value);
  return protocol === "https:" || protocol === "http:";
}

function describe(node: YamlNode | null | undefined): string {
  if (node === null || node === undefined) return "nothing";
  if (isAlias(node)) return "an alias";
  if (isMap(node)) return "a mapping";
  if (isSeq(node)) return "a list";
  if (isScalar(node)) {
    const v = node.value;
    if (v === null) return "nothing";
    if (typeof v === "string") return `'${v.length > 40 ? `${v.slice(0, 40)}…` : v}'`;
    return `${typeof v} ${String(v)}`;
  }
  return "an unsupported value";
}

/** " (did you mean 'x'?)" for a near miss of a known field name. */
function suggest(name: string): string {
  const lower = name.toLowerCase();
  let best: RfcField | undefined;
  let bestDistance = 3;
  for (const field of Object.keys(RFC_FIELDS) as RfcField[]) {
    const d = distance(lower, field);
    if (d < bestDistance) {
      best = field;
      bestDistance = d;
    }
  }
  return best ? ` (did you mean '${best}'?)` : "";
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}
