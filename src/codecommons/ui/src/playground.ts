// Playground: an editor with ghost-text fill-in-the-middle completions from
// POST /v1/completions (`prompt` = text before the cursor, `suffix` = after), and a chat
// panel that streams POST /v1/chat/completions answers about the editor's code. Each
// suggestion shows its attribution (`--index`) or why it was withheld
// (`finish_reason: "content_filter"`), its time to first token and decode speed.
import { matchList, blockedReason } from "./attribution";
import { Timing, errorText, getJSON, streamEvents } from "./api";
import { Chat } from "./chat";
import { h, clear, fmtMs, notice } from "./dom";
import { Editor, LANGUAGES, language } from "./editor";
import { Suggestion, ghostText } from "./ghost";
import type { ModelInfo, Status } from "./types";

interface Settings {
  model: string;
  lang: string;
  temperature: number;
  maxTokens: number;
  chatMaxTokens: number;
  auto: boolean;
}

const STORE = "commons.playground";
const DOC_STORE = "commons.playground.doc";
const DEFAULTS: Settings = { model: "", lang: "python", temperature: 0.2, maxTokens: 64, chatMaxTokens: 512, auto: true };
const EXAMPLE = `def fibonacci(n: int) -> int:
    """Return the n-th Fibonacci number (fibonacci(0) == 0)."""
    `;

function loadSettings(): Settings {
  try {
    return { ...DEFAULTS, ...JSON.parse(localStorage.getItem(STORE) ?? "{}") };
  } catch {
    return { ...DEFAULTS };
  }
}

export class Playground {
  readonly root = h("section", { class: "page page-playground", "aria-labelledby": "pg-title" });
  private settings = loadSettings();
  private editor!: Editor;
  private bar = h("div", { class: "suggestion-bar", role: "status", "aria-live": "polite" });
  private modelSelect = h("select", { "aria-label": "model" });
  private inputs: Partial<Record<keyof Settings, HTMLInputElement>> = {};
  private linked = false; // matches link to the dataset explorer when a dataset is loaded
  private indexed = false; // the server checks suggestions against a code index

  constructor() {
    const s = this.settings;
    const langSelect = h("select", { onchange: (e: Event) => this.set({ lang: (e.target as HTMLSelectElement).value }) },
      LANGUAGES.map((l) => h("option", { value: l.id, selected: l.id === s.lang }, l.label)));
    this.modelSelect.addEventListener("change", () => this.set({ model: this.modelSelect.value }));
    const num = (value: number, min: number, max: number, step: number, key: keyof Settings) =>
      this.inputs[key] = h("input", { type: "number", value, min, max, step, onchange: (e: Event) => {
        const el = e.target as HTMLInputElement;
        const v = Math.min(max, Math.max(min, Number(el.value) || min));
        el.value = String(v);
        this.set({ [key]: v } as Partial<Settings>);
      } });
    const auto = h("input", { type: "checkbox", checked: s.auto, onchange: (e: Event) => this.set({ auto: (e.target as HTMLInputElement).checked }) });

    const editorBox = h("div", { class: "editor-box" });
    const chat = new Chat({
      code: () => this.editor.text,
      language: () => language(this.settings.lang),
      model: () => this.settings.model,
      temperature: () => this.settings.temperature,
      maxTokens: () => this.settings.chatMaxTokens,
      linked: () => this.linked,
    });
    clear(this.root,
      h("header", { class: "page-head" },
        h("h1", { id: "pg-title" }, "Playground"),
        h("p", { class: "lede" }, "Type code: a suggestion appears in grey at the cursor. ",
          h("kbd", null, "Tab"), " accepts, ", h("kbd", null, "Esc"), " dismisses, ",
          h("kbd", null, "Alt"), "+", h("kbd", null, "\\"), " asks now; ",
          h("kbd", null, "Esc"), " then ", h("kbd", null, "Tab"), " leaves the editor.")),
      h("div", { class: "toolbar", role: "group", "aria-label": "completion settings" },
        h("label", null, "Language", langSelect),
        h("label", null, "Model", this.modelSelect),
        h("label", null, "Temperature", num(s.temperature, 0, 2, 0.1, "temperature")),
        h("label", null, "Max tokens", num(s.maxTokens, 1, 1024, 1, "maxTokens")),
        h("label", { class: "check" }, auto, "Suggest as I type"),
      ),
      h("div", { class: "playground" },
        h("div", { class: "editor-col" }, editorBox, this.bar),
        h("aside", { class: "chat-col", "aria-label": "chat" }, chat.root,
          h("label", { class: "chat-tokens" }, "Answer max tokens", num(s.chatMaxTokens, 16, 4096, 16, "chatMaxTokens"))),
      ),
    );

    this.editor = new Editor({
      parent: editorBox,
      doc: localStorage.getItem(DOC_STORE) ?? EXAMPLE,
      lang: language(s.lang),
      label: "code editor",
      extra: [
        ghostText({
          fetch: (req, signal, update) => this.complete(req, signal, update),
          enabled: () => this.settings.auto,
          debounceMs: 250,
          onError: (e) => clear(this.bar, notice("error", `Completion failed: ${errorText(e)}`)),
          onBusy: (busy) => this.bar.classList.toggle("busy", busy),
        }, (sug) => this.showSuggestion(sug)),
      ],
    });
    let saveTimer: number | undefined;
    this.editor.view.dom.addEventListener("keyup", () => {
      window.clearTimeout(saveTimer);
      saveTimer = window.setTimeout(() => localStorage.setItem(DOC_STORE, this.editor.text), 500);
    });
    this.showSuggestion(null);
  }

  /** Called by the shell with what the server offers. */
  async load(status: Status): Promise<void> {
    this.linked = status.dataset !== null;
    this.indexed = status.public_code.mode !== "off";
    const models = await getJSON<{ data: ModelInfo[] }>("/v1/models");
    clear(this.modelSelect, models.data.map((m) =>
      h("option", { value: m.id, selected: m.id === this.settings.model }, m.id)));
    if (!models.data.some((m) => m.id === this.settings.model) && models.data.length) this.set({ model: models.data[0].id });
    // the prompt needs room too: the server refuses prompt + max_tokens > context
    for (const key of ["maxTokens", "chatMaxTokens"] as const) {
      if (this.settings[key] > status.n_ctx / 2) {
        this.set({ [key]: Math.floor(status.n_ctx / 2) });
        this.inputs[key]!.value = String(this.settings[key]);
      }
    }
  }

  private focused = false;

  focus(): void {
    const view = this.editor.view;
    if (!this.focused) view.dispatch({ selection: { anchor: view.state.doc.length } }); // first visit: type on
    this.focused = true;
    view.focus();
  }

  private set(change: Partial<Settings>): void {
    this.settings = { ...this.settings, ...change };
    localStorage.setItem(STORE, JSON.stringify(this.settings));
    if (change.lang) this.editor.setLanguage(language(change.lang));
  }

  private timing: Timing | null = null;

  private async complete(req: { prefix: string; suffix: string }, signal: AbortSignal,
    update: (s: Omit<Suggestion, "pos">) => void): Promise<void> {
    const s = this.settings;
    const timing = new Timing();
    this.timing = timing;
    let text = "";
    let matches: Suggestion["matches"] = [];
    let blocked = false;
    for await (const ev of streamEvents("/v1/completions", {
      model: s.model || undefined, prompt: req.prefix, suffix: req.suffix, max_tokens: s.maxTokens,
      temperature: s.temperature, stream: true, stream_options: { include_usage: true },
    }, signal)) {
      if (ev.usage) {
        timing.tokens = ev.usage.completion_tokens;
        continue;
      }
      const choice = ev.choices?.[0];
      if (!choice) continue;
      if (choice.text) {
        timing.chunk();
        text += choice.text;
      }
      if (choice.attribution) matches = choice.attribution;
      if (choice.finish_reason === "content_filter") blocked = true;
      if (choice.finish_reason) timing.chunk();
      update({ text: blocked ? "" : text, matches, done: false, blocked });
    }
    update({ text: blocked ? "" : text, matches, done: true, blocked });
  }

  private showSuggestion(s: Suggestion | null): void {
    const t = this.timing;
    const stats = t && s ? h("span", { class: "stats" },
      `first token ${fmtMs(t.ttft)}`,
      t.tokensPerSecond !== null ? ` · ${t.tokensPerSecond.toFixed(1)} tokens/s` : "",
      t.tokens ? ` · ${t.tokens} tokens` : "") : null;
    if (!s) {
      clear(this.bar, h("span", { class: "muted" }, this.settings.auto ? "No suggestion. Type, or press Alt+\\ to ask." :
        "Suggestions as you type are off: press Alt+\\ to ask."));
      return;
    }
    if (s.blocked) {
      clear(this.bar, h("div", { class: "bar-row" }, h("span", { class: "badge blocked" }, "withheld"), h("span", null, blockedReason(s.matches)), stats),
        s.matches.length ? matchList(s.matches, this.linked) : null);
      return;
    }
    if (!s.text) {
      clear(this.bar, h("div", { class: "bar-row" }, h("span", { class: "muted" }, s.done ? "The model suggests nothing here." : "Thinking…"), stats));
      return;
    }
    const lines = s.text.split("\n").length;
    clear(this.bar,
      h("div", { class: "bar-row" },
        h("span", { class: "badge suggestion" }, s.done ? "suggestion" : "streaming"),
        h("span", null, `${lines} line${lines > 1 ? "s" : ""}: `, h("kbd", null, "Tab"), " to accept, ", h("kbd", null, "Esc"), " to dismiss"),
        stats),
      s.matches.length
        ? h("div", null, h("div", { class: "match-head" }, `Matches indexed code (${s.matches.length}):`), matchList(s.matches, this.linked))
        : s.done && this.indexed ? h("div", { class: "muted small" }, "No match in the code index.") : null);
  }
}
