// Markdown (dataset cards, chat answers, eval reports) rendered without HTML: markdown-it
// parses to tokens, and the tokens become DOM elements from a fixed list of tags with
// text nodes inside. Raw HTML in the source stays text (markdown-it `html: false`), link
// targets are limited to http(s), mailto and in-page links, and images show their alt text
// (nothing is fetched from another site).
import MarkdownIt from "markdown-it";
import type Token from "markdown-it/lib/token.mjs";
import { h } from "./dom";

const md = new MarkdownIt({ html: false, linkify: false, typographer: false });

const TAGS = new Set([
  "p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "blockquote", "table", "thead", "tbody",
  "tr", "th", "td", "em", "strong", "s", "a", "hr", "br", "pre", "code",
]);

export function renderMarkdown(src: string): DocumentFragment {
  const root = document.createDocumentFragment();
  renderTokens(md.parse(src, {}), root);
  return root;
}

/** Dataset cards start with YAML front matter (Hugging Face card layout): split it off. */
export function splitFrontMatter(src: string): { meta: string; body: string } {
  const m = src.match(/^---\n([\s\S]*?)\n---\n?/);
  return m ? { meta: m[1], body: src.slice(m[0].length) } : { meta: "", body: src };
}

function renderTokens(tokens: Token[], root: Node): void {
  const stack: Node[] = [root];
  const top = () => stack[stack.length - 1];
  for (const t of tokens) {
    if (t.nesting === 1) {
      const el = open(t);
      top().appendChild(el);
      stack.push(el);
    } else if (t.nesting === -1) {
      if (stack.length > 1) stack.pop();
    } else if (t.type === "inline") {
      renderTokens(t.children ?? [], top());
    } else {
      const el = leaf(t);
      if (el) top().appendChild(el);
    }
  }
}

function open(t: Token): HTMLElement {
  const tag = TAGS.has(t.tag) ? t.tag : "span";
  const el = document.createElement(tag);
  if (tag === "a") {
    const href = t.attrGet("href") ?? "";
    if (/^(https?:|mailto:|#)/i.test(href)) {
      el.setAttribute("href", href);
      el.setAttribute("rel", "noopener noreferrer nofollow");
      if (!href.startsWith("#")) el.setAttribute("target", "_blank");
    }
  }
  // table alignment arrives as a style attribute: a class instead (no inline styles)
  const align = (t.attrGet("style") ?? "").match(/text-align:\s*(left|right|center)/);
  if (align) el.classList.add(`align-${align[1]}`);
  if (tag === "ol" && t.attrGet("start")) el.setAttribute("start", t.attrGet("start")!);
  return el;
}

function leaf(t: Token): Node | null {
  switch (t.type) {
    case "text":
    case "html_inline":
    case "html_block":
      return document.createTextNode(t.content);
    case "code_inline":
      return h("code", null, t.content);
    case "fence":
    case "code_block": {
      const lang = t.info.trim().split(/\s+/)[0];
      return h("pre", { class: "code", "data-lang": lang || null }, h("code", null, t.content));
    }
    case "softbreak":
      return document.createTextNode("\n");
    case "hardbreak":
      return h("br");
    case "hr":
      return h("hr");
    case "image":
      return h("span", { class: "md-image" }, `[image: ${t.content || t.attrGet("src") || ""}]`);
    default:
      return t.content ? document.createTextNode(t.content) : null;
  }
}
