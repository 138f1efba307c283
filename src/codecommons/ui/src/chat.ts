// The playground's chat panel: questions about the code in the editor, answered by
// POST /v1/chat/completions as a server-sent-event stream (Stop aborts it, and the
// server cancels the generation). Answers are Markdown rendered without HTML.
import { Timing, errorText, streamEvents } from "./api";
import { blockedReason, matchList } from "./attribution";
import { clear, fmtMs, h, notice } from "./dom";
import type { Language } from "./editor";
import { renderMarkdown } from "./markdown";
import type { Attribution } from "./types";

export interface ChatContext {
  code(): string;
  language(): Language;
  model(): string;
  temperature(): number;
  maxTokens(): number;
  linked(): boolean;
}

interface Message {
  role: "system" | "user" | "assistant";
  content: string;
}

const MAX_CODE_CHARS = 12000; // the editor's code sent with each question, at most

export class Chat {
  readonly root = h("div", { class: "chat" });
  private log = h("div", { class: "chat-log", role: "log", "aria-live": "polite", "aria-label": "conversation" });
  private input = h("textarea", { rows: 3, placeholder: "Ask about the code in the editor…", "aria-label": "question" });
  private send = h("button", { type: "submit", class: "primary" }, "Send");
  private stop = h("button", { type: "button", hidden: true }, "Stop");
  private history: Message[] = [];
  private controller: AbortController | null = null;

  constructor(private ctx: ChatContext) {
    const form = h("form", { class: "chat-form", onsubmit: (e: Event) => { e.preventDefault(); void this.ask(); } },
      this.input, h("div", { class: "chat-actions" },
        h("button", { type: "button", class: "link", onclick: () => this.reset() }, "New conversation"),
        this.stop, this.send));
    this.input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        void this.ask();
      }
    });
    this.stop.addEventListener("click", () => this.controller?.abort());
    clear(this.root, h("h2", null, "Chat about this code"), this.log, form);
    this.reset();
  }

  private reset(): void {
    this.controller?.abort();
    this.history = [];
    clear(this.log, h("p", { class: "muted" }, "Questions go to the model with the code in the editor. ",
      h("kbd", null, "Ctrl"), "+", h("kbd", null, "Enter"), " sends."));
  }

  private system(): Message {
    const lang = this.ctx.language();
    let code = this.ctx.code();
    if (code.length > MAX_CODE_CHARS) code = code.slice(0, MAX_CODE_CHARS) + "\n… (cut)";
    return {
      role: "system",
      content: `You are a helpful coding assistant. The user is editing this ${lang.label} code:\n\n` +
        `\`\`\`${lang.id === "text" ? "" : lang.id}\n${code}\n\`\`\`\n\nAnswer their questions about it concisely.`,
    };
  }

  private async ask(): Promise<void> {
    const question = this.input.value.trim();
    if (!question || this.controller) return;
    if (!this.history.length) this.log.replaceChildren();
    this.input.value = "";
    this.history.push({ role: "user", content: question });
    this.log.append(h("div", { class: "msg msg-user" }, h("div", { class: "msg-body" }, question)));
    const body = h("div", { class: "msg-body md" }, h("span", { class: "muted" }, "…"));
    const meta = h("div", { class: "msg-meta" });
    this.log.append(h("div", { class: "msg msg-assistant" }, body, meta));
    this.log.scrollTop = this.log.scrollHeight;

    const controller = new AbortController();
    this.controller = controller;
    this.send.disabled = true;
    this.stop.hidden = false;
    const timing = new Timing();
    let text = "";
    let matches: Attribution[] = [];
    let finish = "";
    let frame = 0;
    const render = () => {
      frame = 0;
      clear(body, renderMarkdown(text));
      this.log.scrollTop = this.log.scrollHeight;
    };
    try {
      for await (const ev of streamEvents("/v1/chat/completions", {
        model: this.ctx.model() || undefined, messages: [this.system(), ...this.history],
        temperature: this.ctx.temperature(), max_tokens: this.ctx.maxTokens(), stream: true,
        stream_options: { include_usage: true },
      }, controller.signal)) {
        if (ev.usage) {
          timing.tokens = ev.usage.completion_tokens;
          continue;
        }
        const choice = ev.choices?.[0];
        if (!choice) continue;
        const delta = choice.delta?.content ?? "";
        if (delta) {
          timing.chunk();
          text += delta;
          frame ||= requestAnimationFrame(render);
        }
        if (choice.attribution) matches = choice.attribution;
        if (choice.finish_reason) {
          finish = choice.finish_reason;
          timing.chunk();
        }
      }
    } catch (e) {
      if (!controller.signal.aborted) {
        clear(body, notice("error", errorText(e)));
        this.history.pop(); // the question was not answered: ask it again later
        return;
      }
    } finally {
      cancelAnimationFrame(frame);
      this.controller = null;
      this.send.disabled = false;
      this.stop.hidden = true;
    }
    if (finish === "content_filter") clear(body, notice("warn", blockedReason(matches)));
    else render();
    this.history.push({ role: "assistant", content: text });
    meta.prepend(h("span", { class: "stats" },
      controller.signal.aborted ? "stopped · " : finish === "length" ? "cut at max tokens · " : "",
      `first token ${fmtMs(timing.ttft)}`,
      timing.tokensPerSecond !== null ? ` · ${timing.tokensPerSecond.toFixed(1)} tokens/s` : "",
      timing.tokens ? ` · ${timing.tokens} tokens` : ""));
    if (matches.length && finish !== "content_filter") meta.append(h("div", { class: "match-head" }, "This answer matches indexed code:"), matchList(matches, this.ctx.linked()));
  }
}
