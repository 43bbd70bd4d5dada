/**
 * RFC Markdown to safe HTML, with one unified pipeline shared by every page:
 *
 * ```
 * remark-parse ─► remark-frontmatter ─► remark-gfm ─► remark-rehype (raw HTML kept as nodes)
 *   ─► rehype-raw (raw HTML parsed, positions kept) ─► link rewriting (attachments, RFC links)
 *   ─► rehype-sanitize (GitHub's schema) ─► heading ids + anchors ─► rehype-stringify
 * ```
 *
 * Sanitising comes after raw HTML is parsed and before anything the site adds
 * itself: whatever an author writes passes the allow-list (RFC 8 lists it), and
 * the site's own anchors are added to the already-clean tree. Links are rewritten
 * before sanitising so a rewritten URL is checked like any other.
 */
import type { Element, ElementContent, Root as HastRoot } from "hast";
import rehypeRaw from "rehype-raw";
import rehypeSanitize, { defaultSchema } from "rehype-sanitize";
import rehypeSlug from "rehype-slug";
import rehypeStringify from "rehype-stringify";
import remarkFrontmatter from "remark-frontmatter";
import remarkGfm from "remark-gfm";
import remarkParse from "remark-parse";
import remarkRehype from "remark-rehype";
import { unified } from "unified";
import { VFile } from "vfile";

export interface Heading {
  depth: number;
  slug: string;
  text: string;
}

/** What a link or image in the body should become. */
export type LinkResolution =
  | { kind: "keep" }
  | { kind: "rewrite"; url: string }
  /** A link the site cannot serve (a missing attachment): shown as plain text. */
  | { kind: "drop" };

export interface LinkContext {
  url: string;
  /** 1-based line in the RFC file (front matter included). */
  line: number;
  /** `img` for images, `a` for links, the element name otherwise. */
  element: string;
}

export interface RenderOptions {
  /** The whole document, front matter included (positions are lines of this text). */
  text: string;
  /** Decides about every relative or unusual link; absolute http(s) links are kept. */
  resolveLink?: (link: LinkContext) => LinkResolution;
}

export interface RenderedMarkdown {
  html: string;
  /** Headings h2–h4 in order, for the table of contents. */
  headings: Heading[];
}

/**
 * The allow-list: GitHub's (hast-util-sanitize's default schema), which already
 * strips `<script>`, `<style>`, `<iframe>`, every `on*` handler, `style`
 * attributes, and any URL whose protocol is not http, https, mailto, irc, ircs
 * or xmpp (so `javascript:` and `data:` links are removed). Ids are prefixed
 * with `user-content-` so content cannot clobber the page's own ids.
 */
export const SANITIZE_SCHEMA = defaultSchema;

const processor = unified()
  .use(remarkParse)
  .use(remarkFrontmatter, ["yaml"])
  .use(remarkGfm)
  .use(remarkRehype, { allowDangerousHtml: true })
  .use(rehypeRaw)
  .use(rewriteLinks)
  .use(rehypeSanitize, SANITIZE_SCHEMA)
  .use(rehypeSlug)
  .use(headingAnchors)
  .use(rehypeStringify)
  .freeze();

/** Renders one RFC document (front matter is skipped). Never throws on content. */
export function renderMarkdown(options: RenderOptions): RenderedMarkdown {
  const file = new VFile({ value: options.text });
  file.data.resolveLink = options.resolveLink;
  const tree = processor.runSync(processor.parse(file), file) as HastRoot;
  const html = processor.stringify(tree, file);
  return { html, headings: (file.data.headings as Heading[] | undefined) ?? [] };
}

const URL_ATTRIBUTES: Record<string, string> = { a: "href", img: "src", source: "src" };

function rewriteLinks() {
  return (tree: HastRoot, file: VFile) => {
    const resolve = file.data.resolveLink as RenderOptions["resolveLink"];
    if (!resolve) return;
    visitElements(tree, (node, parent, index) => {
      const attribute = URL_ATTRIBUTES[node.tagName];
      if (!attribute) return;
      const url = node.properties?.[attribute === "href" ? "href" : "src"];
      if (typeof url !== "string" || url === "") return;
      const result = resolve({
        url,
        line: node.position?.start.line ?? 1,
        element: node.tagName,
      });
      if (result.kind === "rewrite") node.properties[attribute] = result.url;
      else if (result.kind === "drop") {
        if (node.tagName === "a" && parent) {
          parent.children.splice(index, 1, ...node.children);
        } else if (parent) {
          const alt = typeof node.properties.alt === "string" ? node.properties.alt : url;
          parent.children.splice(index, 1, {
            type: "element",
            tagName: "span",
            properties: { className: ["missing-attachment"] },
            children: [{ type: "text", value: `[missing attachment: ${alt}]` }],
          });
        }
      }
    });
  };
}

function headingAnchors() {
  return (tree: HastRoot, file: VFile) => {
    const headings: Heading[] = [];
    visitElements(tree, (node) => {
      const depth = /^h([1-6])$/.exec(node.tagName)?.[1];
      if (!depth) return;
      const id = node.properties?.id;
      if (typeof id !== "string") return;
      const text = hastToString(node).trim();
      if (Number(depth) >= 2 && Number(depth) <= 4)
        headings.push({ depth: Number(depth), slug: id, text });
      node.children.push({
        type: "element",
        tagName: "a",
        properties: { className: ["anchor"], href: `#${id}`, ariaLabel: `Link to “${text}”` },
        children: [{ type: "text", value: "#" }],
      });
    });
    file.data.headings = headings;
  };
}

type Parent = HastRoot | Element;

function hastToString(node: Element | ElementContent): string {
  if (node.type === "text") return node.value;
  if (node.type === "element") return node.children.map(hastToString).join("");
  return "";
}

/** Depth-first over elements; the callback may replace the node at `index` in `parent`. */
function visitElements(
  tree: HastRoot,
  visit: (node: Element, parent: Parent | undefined, index: number) => void,
) {
  const walk = (parent: Parent) => {
    const children = parent.children as ElementContent[];
    for (let i = 0; i < children.length; i++) {
      const child = children[i]!;
      if (child.type !== "element") continue;
      const before = children.length;
      visit(child, parent, i);
      if (children[i] !== child) {
        i += children.length - before - 1;
        continue;
      }
      walk(child);
    }
  };
  walk(tree);
}
