/**
 * Finds the YAML front matter of a Markdown text with unified, remark-parse and
 * remark-frontmatter, so that gdo agrees with the site's renderer on where the
 * front matter ends and the body begins.
 *
 * ```
 * offset 0        ---\n                 opening fence (first line, exactly ---)
 * yamlOffset  ──► rfc: 5\n              YAML source handed to the yaml package
 *                 title: …\n
 *                 ---\n                 closing fence
 * bodyOffset  ──► (body: everything after the closing fence's line ending)
 * ```
 *
 * Only the text up to the closing fence is given to remark: a front matter is
 * complete there, and a large body need not be parsed to read its fields.
 */
import type { Root } from "mdast";
import remarkFrontmatter from "remark-frontmatter";
import remarkParse from "remark-parse";
import { unified } from "unified";

export type FrontMatterSearch =
  | { found: true; yaml: string; yamlOffset: number; bodyOffset: number }
  | { found: false; why: "missing" | "unclosed" };

const processor = unified().use(remarkParse).use(remarkFrontmatter, ["yaml"]);
const FENCE = /^---[ \t]*\r?$/;

/** Parses Markdown (with front matter) into mdast, for callers that need the body too. */
export function parseMarkdown(text: string): Root {
  return processor.parse(text);
}

export function findFrontMatter(text: string): FrontMatterSearch {
  const firstEol = text.indexOf("\n");
  if (!FENCE.test(firstEol === -1 ? text : text.slice(0, firstEol)))
    return { found: false, why: "missing" };
  if (firstEol === -1) return { found: false, why: "unclosed" };
  let closeStart = -1;
  let closeEnd = -1;
  for (let at = firstEol + 1; at < text.length; ) {
    const eol = text.indexOf("\n", at);
    const line = text.slice(at, eol === -1 ? text.length : eol);
    if (FENCE.test(line)) {
      closeStart = at;
      closeEnd = eol === -1 ? text.length : eol + 1;
      break;
    }
    if (eol === -1) break;
    at = eol + 1;
  }
  if (closeStart === -1) return { found: false, why: "unclosed" };
  const tree = processor.parse(text.slice(0, closeEnd));
  const node = tree.children[0];
  if (node?.type !== "yaml" || node.position?.start.offset !== 0)
    return { found: false, why: "unclosed" };
  return {
    found: true,
    yaml: text.slice(firstEol + 1, closeStart),
    yamlOffset: firstEol + 1,
    bodyOffset: closeEnd,
  };
}

/** Maps offsets in `text` to 1-based line and column (UTF-16 code units). */
export function locator(text: string): (offset: number) => { line: number; column: number } {
  const starts = [0];
  for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) starts.push(i + 1);
  return (offset) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - starts[lo]! + 1 };
  };
}
