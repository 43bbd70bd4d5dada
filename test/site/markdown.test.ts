import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type LinkContext, renderMarkdown } from "../../site/markdown.ts";

const doc = (body: string) => `---\nrfc: 1\ntitle: T\n---\n\n${body}`;

describe("RFC Markdown rendering", () => {
  it("should remove scripts, event handlers, styles, iframes and javascript: links", () => {
    const { html } = renderMarkdown({
      text: doc(
        '<script>alert(1)</script>\n\n<img src="a.png" onerror="alert(2)">\n\n[x](javascript:alert(3))\n\n<iframe src="https://e.org"></iframe>\n\n<p style="color:red" onclick="alert(4)">p</p>\n\n<a href="JaVaScRiPt:alert(5)">y</a>\n',
      ),
    });
    assert.doesNotMatch(html, /alert|<script|<iframe|onerror|onclick|style=/i);
    assert.match(html, /<img src="a.png">/);
  });

  it("should keep safe HTML, tables and details", () => {
    const { html } = renderMarkdown({
      text: doc(
        "<details><summary>More</summary>\n\nHidden *text*\n\n</details>\n\n| a | b |\n|---|---|\n| 1 | 2 |\n",
      ),
    });
    assert.match(html, /<details><summary>More<\/summary>/);
    assert.match(html, /<table>/);
  });

  it("should give headings ids and anchors and list h2–h4 for the table of contents", () => {
    const { html, headings } = renderMarkdown({
      text: doc("# Top\n\n## Why *this*\n\n### How\n\n##### Deep\n"),
    });
    assert.match(html, /<h2 id="why-this">Why <em>this<\/em><a class="anchor" href="#why-this"/);
    assert.deepEqual(
      headings.map((h) => `${h.depth} ${h.slug} ${h.text}`),
      ["2 why-this Why this", "3 how How"],
    );
  });

  it("should ask about every link with its line in the file, and apply the answer", () => {
    const seen: LinkContext[] = [];
    const { html } = renderMarkdown({
      text: doc('[a](./0002-x.md)\n\n![b](gone.png)\n\n<a href="keep.html">c</a>\n'),
      resolveLink: (link) => {
        seen.push(link);
        if (link.url.endsWith(".md")) return { kind: "rewrite", url: "/rfcs/2/" };
        if (link.url === "gone.png") return { kind: "drop" };
        return { kind: "keep" };
      },
    });
    assert.deepEqual(
      seen.map((l) => `${l.line} ${l.element} ${l.url}`),
      ["6 a ./0002-x.md", "8 img gone.png", "10 a keep.html"],
    );
    assert.match(html, /<a href="\/rfcs\/2\/">a<\/a>/);
    assert.match(html, /\[missing attachment: b\]/);
    assert.match(html, /<a href="keep.html">c<\/a>/);
  });
});
