// Ghost-text completions for CodeMirror 6. After a pause in typing (debounced), the
// text before and after the cursor goes to `fetch`, which streams a suggestion back;
// it is drawn in grey at the cursor, with the span that matches indexed code marked.
// Tab accepts, Escape dismisses, Alt-\ or Ctrl-Space asks at once. Any edit or cursor
// move dismisses the suggestion and aborts a request still running (AbortController:
// the server sees the disconnect and cancels the generation), so a superseded request
// never costs the engine more than a token.
import { Annotation, EditorState, Facet, Prec, StateEffect, StateField } from "@codemirror/state";
import { Decoration, DecorationSet, EditorView, ViewPlugin, ViewUpdate, WidgetType, keymap } from "@codemirror/view";
import type { Attribution } from "./types";

export interface Suggestion {
  pos: number;
  text: string;
  matches: Attribution[];
  done: boolean; // the stream has finished
  blocked: boolean; // withheld by the server (content_filter)
}

export interface GhostConfig {
  /** Stream a suggestion for the cursor between `prefix` and `suffix`; call `update`
   * with the text so far (and the matches, when they arrive). */
  fetch(req: { prefix: string; suffix: string }, signal: AbortSignal,
    update: (s: Omit<Suggestion, "pos">) => void): Promise<void>;
  enabled(): boolean;
  debounceMs: number;
  onError(e: unknown): void;
  onBusy(busy: boolean): void;
}

const ghostConfig = Facet.define<GhostConfig, GhostConfig>({ combine: (values) => values[0] });
const setSuggestion = StateEffect.define<Suggestion | null>();
const accepted = Annotation.define<boolean>();
const addMarks = StateEffect.define<{ from: number; to: number; title: string }[]>();

const suggestionField = StateField.define<Suggestion | null>({
  create: () => null,
  update(value, tr) {
    for (const e of tr.effects) if (e.is(setSuggestion)) return e.value;
    return tr.docChanged || tr.selection ? null : value;
  },
  provide: (f) => EditorView.decorations.from(f, (s) =>
    s && s.text ? Decoration.set([Decoration.widget({ widget: new GhostWidget(s), side: 1 }).range(s.pos)]) : Decoration.none),
});

/** Accepted text that copies indexed code stays underlined, with its source as a tooltip. */
const marksField = StateField.define<DecorationSet>({
  create: () => Decoration.none,
  update(deco, tr) {
    deco = deco.map(tr.changes);
    for (const e of tr.effects) {
      if (!e.is(addMarks)) continue;
      deco = deco.update({
        add: e.value.filter((m) => m.to > m.from).map((m) =>
          Decoration.mark({ class: "cm-attributed", attributes: { title: m.title } }).range(m.from, m.to)),
        sort: true,
      });
    }
    return deco;
  },
  provide: (f) => EditorView.decorations.from(f),
});

class GhostWidget extends WidgetType {
  constructor(readonly s: Suggestion) {
    super();
  }

  eq(other: GhostWidget): boolean {
    return other.s.text === this.s.text && other.s.matches.length === this.s.matches.length;
  }

  toDOM(): HTMLElement {
    const root = document.createElement("span");
    root.className = "cm-ghost";
    root.setAttribute("aria-hidden", "true"); // announced by the suggestion bar instead
    let at = 0;
    for (const [from, to] of spans(this.s.matches, this.s.text.length)) {
      if (from > at) root.append(piece(this.s.text.slice(at, from), false));
      root.append(piece(this.s.text.slice(from, to), true));
      at = to;
    }
    if (at < this.s.text.length) root.append(piece(this.s.text.slice(at), false));
    return root;
  }

  ignoreEvent(): boolean {
    return false;
  }
}

function piece(text: string, matched: boolean): HTMLElement {
  const el = document.createElement("span");
  if (matched) el.className = "cm-ghost-match";
  el.textContent = text;
  return el;
}

/** Matched character spans in the suggestion, sorted and merged. */
function spans(matches: Attribution[], length: number): [number, number][] {
  const out: [number, number][] = [];
  for (const [a, b] of matches.map((m) => [Math.max(0, m.query_start), Math.min(length, m.query_end)]).sort((x, y) => x[0] - y[0])) {
    if (b <= a) continue;
    if (out.length && a <= out[out.length - 1][1]) out[out.length - 1][1] = Math.max(out[out.length - 1][1], b);
    else out.push([a, b]);
  }
  return out;
}

export function suggestionOf(state: EditorState): Suggestion | null {
  return state.field(suggestionField, false) ?? null;
}

export function acceptSuggestion(view: EditorView): boolean {
  const s = suggestionOf(view.state);
  if (!s || !s.text) return false;
  const marks = s.matches.map((m) => ({
    from: s.pos + Math.max(0, m.query_start),
    to: s.pos + Math.min(s.text.length, m.query_end),
    title: `copies ${m.repo}/${m.path} (${m.license || "no licence"})`,
  }));
  view.dispatch({
    changes: { from: s.pos, insert: s.text },
    selection: { anchor: s.pos + s.text.length },
    effects: [setSuggestion.of(null), addMarks.of(marks)],
    annotations: accepted.of(true),
    userEvent: "input.complete",
    scrollIntoView: true,
  });
  return true;
}

export function dismissSuggestion(view: EditorView): boolean {
  const plugin = view.plugin(completer);
  const had = suggestionOf(view.state) !== null || (plugin?.busy ?? false);
  plugin?.cancel();
  if (suggestionOf(view.state)) view.dispatch({ effects: setSuggestion.of(null) });
  return had;
}

export function requestSuggestion(view: EditorView): boolean {
  view.plugin(completer)?.schedule(0, true);
  return true;
}

class Completer {
  private timer: number | undefined;
  private controller: AbortController | null = null;

  constructor(readonly view: EditorView) {}

  private get config(): GhostConfig {
    return this.view.state.facet(ghostConfig);
  }

  get busy(): boolean {
    return this.controller !== null;
  }

  update(u: ViewUpdate): void {
    const typed = u.transactions.some((tr) => tr.docChanged && !tr.annotation(accepted) &&
      (tr.isUserEvent("input") || tr.isUserEvent("delete")));
    if (typed) this.schedule(this.config.debounceMs);
    else if (u.docChanged || u.selectionSet) this.cancel();
  }

  schedule(delay: number, force = false): void {
    this.cancel();
    if (!force && !this.config.enabled()) return;
    this.timer = window.setTimeout(() => void this.run(), delay);
  }

  cancel(): void {
    window.clearTimeout(this.timer);
    if (this.controller) {
      this.controller.abort();
      this.controller = null;
      this.config.onBusy(false);
    }
  }

  private async run(): Promise<void> {
    const state = this.view.state;
    const sel = state.selection.main;
    if (!sel.empty) return;
    const controller = new AbortController();
    this.controller = controller;
    const config = this.config;
    config.onBusy(true);
    const doc = state.doc;
    const pos = sel.head;
    const update = (s: Omit<Suggestion, "pos">) => {
      // a late chunk for a document that has changed since is dropped
      if (controller.signal.aborted || this.view.state.doc !== doc) return;
      this.view.dispatch({ effects: setSuggestion.of({ ...s, pos }) });
    };
    try {
      await config.fetch({ prefix: doc.sliceString(0, pos), suffix: doc.sliceString(pos) }, controller.signal, update);
    } catch (e) {
      if (!controller.signal.aborted) config.onError(e);
    } finally {
      if (this.controller === controller) {
        this.controller = null;
        config.onBusy(false);
      }
    }
  }

  destroy(): void {
    this.cancel();
  }
}

const completer = ViewPlugin.fromClass(Completer);

export function ghostText(cfg: GhostConfig, onChange: (s: Suggestion | null) => void) {
  return [
    ghostConfig.of(cfg),
    suggestionField,
    marksField,
    completer,
    EditorView.updateListener.of((u) => {
      const s = suggestionOf(u.state);
      if (s !== suggestionOf(u.startState)) onChange(s);
    }),
    Prec.highest(keymap.of([
      { key: "Tab", run: acceptSuggestion },
      { key: "Escape", run: dismissSuggestion },
      { key: "Alt-\\", run: requestSuggestion },
      { key: "Ctrl-Space", run: requestSuggestion },
    ])),
  ];
}
