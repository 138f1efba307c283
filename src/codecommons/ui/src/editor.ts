// CodeMirror editors: the playground's and the read-only file viewer's, with a language
// picker (the languages bundled: a few grammars keep the one bundle small).
import { closeBrackets, closeBracketsKeymap } from "@codemirror/autocomplete";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { cpp } from "@codemirror/lang-cpp";
import { go } from "@codemirror/lang-go";
import { java } from "@codemirror/lang-java";
import { javascript } from "@codemirror/lang-javascript";
import { python } from "@codemirror/lang-python";
import { rust } from "@codemirror/lang-rust";
import { bracketMatching, defaultHighlightStyle, indentOnInput, syntaxHighlighting } from "@codemirror/language";
import { Compartment, EditorState, Extension, RangeSetBuilder } from "@codemirror/state";
import { Decoration, EditorView, drawSelection, highlightActiveLine, highlightActiveLineGutter, keymap, lineNumbers } from "@codemirror/view";

export interface Language {
  id: string; // what the chat's code fence says
  label: string;
  extension: () => Extension;
  aliases: string[]; // dataset `language` values (Pygments names) that map here
}

export const LANGUAGES: Language[] = [
  { id: "python", label: "Python", extension: () => python(), aliases: ["python", "python 3", "python3", "cython"] },
  { id: "javascript", label: "JavaScript", extension: () => javascript({ jsx: true }), aliases: ["javascript", "js", "jsx", "json"] },
  { id: "typescript", label: "TypeScript", extension: () => javascript({ typescript: true, jsx: true }), aliases: ["typescript", "ts", "tsx"] },
  { id: "java", label: "Java", extension: () => java(), aliases: ["java", "kotlin", "scala"] },
  { id: "cpp", label: "C / C++", extension: () => cpp(), aliases: ["c", "c++", "cpp", "objective-c", "cuda"] },
  { id: "rust", label: "Rust", extension: () => rust(), aliases: ["rust"] },
  { id: "go", label: "Go", extension: () => go(), aliases: ["go"] },
  { id: "text", label: "Plain text", extension: () => [], aliases: [] },
];

export function language(id: string): Language {
  return LANGUAGES.find((l) => l.id === id) ?? LANGUAGES[0];
}

/** The bundled grammar for a dataset `language` value (plain text when there is none). */
export function languageFor(name: string): Language {
  const n = name.toLowerCase();
  return LANGUAGES.find((l) => l.aliases.includes(n)) ?? language("text");
}

// Editors live in a shadow root: CodeMirror then installs its styles as a constructed
// stylesheet (adoptedStyleSheets) instead of a <style> element, which the page's
// Content-Security-Policy (style-src 'self', no 'unsafe-inline') would block. So the
// editors' own styles are here, not in style.css; CSS variables cross the boundary.
const theme = EditorView.theme({
  "&": { height: "100%", fontSize: "14px", backgroundColor: "var(--panel)", color: "var(--text)" },
  ".cm-scroller": { fontFamily: "var(--mono)", lineHeight: "1.55" },
  ".cm-content": { padding: "10px 0" },
  ".cm-gutters": { backgroundColor: "var(--panel-2)", color: "var(--muted)", borderRight: "1px solid var(--border)" },
  "&.cm-focused": { outline: "2px solid var(--focus)", outlineOffset: "-2px" },
  ".cm-activeLine": { backgroundColor: "#f3f6fb" },
  ".cm-activeLineGutter": { backgroundColor: "#e9eef6" },
  // ghost text (ghost.ts): the suggestion, and the part of it that matches indexed code
  ".cm-ghost": { color: "var(--ghost)", fontStyle: "italic" },
  ".cm-ghost-match": { backgroundColor: "#fff1c2", color: "#8a6d1a", borderBottom: "2px solid #e0b84a" },
  // accepted text that copies indexed code; a matched span in the file viewer
  ".cm-attributed": { backgroundColor: "#fff7dc", borderBottom: "2px dotted #d3a12b" },
  ".cm-hl": { backgroundColor: "#fff1c2" },
});

export interface EditorOptions {
  parent: HTMLElement;
  doc: string;
  lang: Language;
  readOnly?: boolean;
  label: string; // accessible name
  extra?: Extension[];
}

export class Editor {
  readonly view: EditorView;
  private langSlot = new Compartment();

  constructor(o: EditorOptions) {
    const base: Extension[] = [
      lineNumbers(),
      highlightActiveLineGutter(),
      drawSelection(),
      syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
      bracketMatching(),
      theme,
      this.langSlot.of(o.lang.extension()),
      EditorView.contentAttributes.of({ "aria-label": o.label }),
    ];
    const editing: Extension[] = o.readOnly
      ? [EditorState.readOnly.of(true), EditorView.editable.of(true)]
      : [
        history(),
        indentOnInput(),
        closeBrackets(),
        highlightActiveLine(),
        // Tab indents when no suggestion is shown; Escape then Tab leaves the editor
        // (CodeMirror's tab focus mode), so the page works from the keyboard alone.
        keymap.of([...closeBracketsKeymap, ...defaultKeymap, ...historyKeymap, indentWithTab]),
      ];
    const host = o.parent.appendChild(document.createElement("div"));
    host.className = "cm-host";
    const shadow = host.attachShadow({ mode: "open" });
    this.view = new EditorView({
      root: shadow,
      parent: shadow,
      state: EditorState.create({ doc: o.doc, extensions: [...(o.extra ?? []), ...base, ...editing] }),
    });
  }

  setLanguage(lang: Language): void {
    this.view.dispatch({ effects: this.langSlot.reconfigure(lang.extension()) });
  }

  get text(): string {
    return this.view.state.doc.toString();
  }
}

/** A read-only view of `text` with the character ranges in `highlight` marked. */
export function viewer(parent: HTMLElement, text: string, lang: Language, label: string, highlight: [number, number][] = []): Editor {
  const builder = new RangeSetBuilder<Decoration>();
  for (const [a, b] of [...highlight].sort((x, y) => x[0] - y[0])) {
    const from = Math.max(0, Math.min(a, text.length));
    const to = Math.max(from, Math.min(b, text.length));
    if (to > from) builder.add(from, to, Decoration.mark({ class: "cm-hl" }));
  }
  const marks = builder.finish();
  const ed = new Editor({ parent, doc: text, lang, readOnly: true, label, extra: [EditorView.decorations.of(marks)] });
  if (highlight.length) {
    const at = Math.min(highlight[0][0], text.length);
    requestAnimationFrame(() => ed.view.dispatch({ effects: EditorView.scrollIntoView(at, { y: "center" }) }));
  }
  return ed;
}
