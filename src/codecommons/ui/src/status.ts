// Server status: the model, engine, context size, queue depth, request and token counts,
// time to first token and decode speed from the server's own Prometheus metrics
// (GET /v1/status reads them in-process), refreshed every two seconds while shown.
import { errorText, getJSON } from "./api";
import { clear, code, fmtInt, fmtMs, h, notice } from "./dom";
import type { Status, Summary } from "./types";

export class StatusPage {
  readonly root = h("section", { class: "page", "aria-labelledby": "st-title" });
  private timer: number | undefined;
  private body = h("div", { "aria-live": "off" });

  constructor() {
    clear(this.root, h("header", { class: "page-head" }, h("h1", { id: "st-title" }, "Server status"),
      h("p", { class: "lede" }, "From this server's own metrics (also at ", h("a", { href: "/metrics" }, "/metrics"), " for Prometheus), refreshed every 2 s.")), this.body);
  }

  async show(): Promise<void> {
    this.hide();
    await this.refresh();
    this.timer = window.setInterval(() => void this.refresh(), 2000);
  }

  hide(): void {
    window.clearInterval(this.timer);
  }

  private async refresh(): Promise<void> {
    try {
      render(this.body, await getJSON<Status>("/v1/status"));
    } catch (e) {
      clear(this.body, notice("error", errorText(e)));
      this.hide();
    }
  }
}

function render(box: HTMLElement, s: Status): void {
  const rate = (v: number | null) => (v === null ? "–" : v.toFixed(v >= 100 ? 0 : 1));
  clear(box,
    h("div", { class: "cards" },
      stat("Model", s.model.id, `${s.model.family} · ${s.model.license || "licence unknown"}`),
      stat("Engine", s.engine, s.model.format),
      stat("Context", `${fmtInt(s.n_ctx)} tokens`, `model maximum ${fmtInt(s.model.context_length)}`),
      stat("Queue", `${s.queue.depth} / ${s.queue.max}`, "waiting or running / limit"),
      stat("Time to first token", fmtMs(s.time_to_first_token_s.mean), summary(s.time_to_first_token_s, fmtMs)),
      stat("Decode speed", `${rate(s.decode_tokens_per_second.mean)} tok/s`, summary(s.decode_tokens_per_second, rate)),
      stat("Requests", fmtInt(s.requests), `up ${uptime(s.uptime_s)}`),
      stat("Tokens", fmtInt(s.tokens.generated), `generated · ${fmtInt(s.tokens.prompt)} prompt (${fmtInt(s.tokens.cached)} from cache)`)),
    h("div", { class: "panel" }, h("h2", null, "What this server checks"),
      h("dl", { class: "facts" },
        h("dt", null, "Public code"), h("dd", null, s.public_code.mode === "off"
          ? h("span", null, "off: no code index (", code("--index"), ")")
          : `${s.public_code.mode}: ${fmtInt(s.public_code.matched)} suggestions matched indexed code, ${fmtInt(s.public_code.blocked)} withheld (a match is ${s.public_code.min_chars} normalised characters)`),
        h("dt", null, "Dataset"), h("dd", null, s.dataset ? `${s.dataset.path} (${fmtInt(s.dataset.files)} files)` : h("span", null, "none (", code("--dataset"), ")")),
        h("dt", null, "Reports"), h("dd", null, s.reports ?? h("span", null, "none (", code("--reports"), ")")),
        h("dt", null, "API key"), h("dd", null, s.api_key ? "required on every route but /health and the page's static files" : "not required (--api-key unset)"),
        h("dt", null, "Version"), h("dd", null, s.version))));
}

function stat(label: string, value: string, sub: string): HTMLElement {
  return h("div", { class: "stat" }, h("div", { class: "stat-label" }, label), h("div", { class: value.length > 16 ? "stat-value long" : "stat-value", title: value }, value), h("div", { class: "stat-sub" }, sub));
}

function summary(x: Summary, f: (v: number | null) => string): string {
  if (!x.count) return "no generation yet";
  return `p50 ${f(x.p50)} · p95 ${f(x.p95)} · ${fmtInt(x.count)} requests`;
}

function uptime(s: number): string {
  if (s < 120) return `${Math.round(s)} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}
