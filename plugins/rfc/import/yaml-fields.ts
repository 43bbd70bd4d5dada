import { isMap, isScalar, type Pair, parseDocument } from "yaml";
import { locator } from "../front-matter.ts";

export type YamlFields =
  | { ok: true; fields: Record<string, unknown>; fieldLines: Record<string, number> }
  | { ok: false; reason: string; line: number };

/**
 * Parses a YAML header found at `yamlOffset` in `text` into plain values, with
 * the 1-based line of each top-level key in `text`. For mappers: foreign
 * headers are read leniently (YAML 1.2 core schema: dates stay strings).
 */
export function yamlFields(text: string, yaml: string, yamlOffset: number): YamlFields {
  const at = locator(text.slice(0, yamlOffset + yaml.length));
  const doc = parseDocument(yaml, { prettyErrors: false, version: "1.2", schema: "core" });
  const error = doc.errors[0];
  if (error)
    return {
      ok: false,
      reason: `front matter: ${error.message}`,
      line: at(yamlOffset + error.pos[0]).line,
    };
  if (!isMap(doc.contents))
    return { ok: false, reason: "front matter is not a mapping", line: at(yamlOffset).line };
  const fields: Record<string, unknown> = {};
  const fieldLines: Record<string, number> = {};
  for (const pair of doc.contents.items as Pair[]) {
    if (!isScalar(pair.key)) continue;
    const key = String(pair.key.value);
    const value = pair.value as { toJSON?: () => unknown } | null;
    fields[key] = isScalar(value) ? value.value : (value?.toJSON?.() ?? null);
    fieldLines[key] = at(yamlOffset + (pair.key.range?.[0] ?? 0)).line;
  }
  return { ok: true, fields, fieldLines };
}
