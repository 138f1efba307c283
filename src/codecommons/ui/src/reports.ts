// Evaluation reports: every `commons eval` output folder under `commons serve --reports
// DIR`, as a leaderboard (model, task, pass@k, mode, date, commit); a report's chart and
// its per-problem results (prompt, completion, verdict, stderr of failures).
import { errorText, getJSON, objectURL } from "./api";
import { clear, code, fmtInt, fmtPct, h, notice, route } from "./dom";
import { renderMarkdown } from "./markdown";
import type { ProblemSample, ReportDetail, ReportSummary } from "./types";

const PAGE = 50;

export class ReportsPage {
  readonly root = h("section", { class: "page", "aria-labelledby": "rp-title" });
  private chartURL: string | null = null;

  async show(sub: string, params: URLSearchParams): Promise<void> {
    if (this.chartURL) URL.revokeObjectURL(this.chartURL);
    this.chartURL = null;
    if (sub === "report" && params.get("id")) await this.report(params.get("id")!, params.get("verdict") ?? "all");
    else await this.list();
  }

  private async list(): Promise<void> {
    clear(this.root, h("header", { class: "page-head" }, h("h1", { id: "rp-title" }, "Evaluation reports")), h("p", { class: "muted" }, "Loading…"));
    let reports: ReportSummary[];
    try {
      reports = (await getJSON<{ reports: ReportSummary[] }>("/v1/reports")).reports;
    } catch (e) {
      clear(this.root, h("header", { class: "page-head" }, h("h1", { id: "rp-title" }, "Evaluation reports")),
        h("div", { class: "empty" }, h("p", null, errorText(e)),
          h("p", null, "Start the server with ", code("commons serve --reports DIR"), ", where DIR holds ", code("commons eval run … --out DIR"), " output.")));
      return;
    }
    const metricNames = [...new Set(reports.flatMap((r) => Object.keys(r.metrics)))].sort(metricOrder);
    clear(this.root,
      h("header", { class: "page-head" }, h("h1", { id: "rp-title" }, "Evaluation reports"),
        h("p", { class: "lede" }, `${reports.length} report${reports.length === 1 ? "" : "s"}: execution-based scores from `, code("commons eval"), ", best first within each task.")),
      reports.length === 0
        ? h("div", { class: "empty" }, h("p", null, "No report.json under the reports folder yet. Run ", code("commons eval run humaneval --model MODEL --out DIR --allow-code-execution"), "."))
        : h("div", { class: "panel" }, h("table", { class: "grid leaderboard" },
          h("thead", null, h("tr", null, h("th", null, "Task"), h("th", null, "Model"), metricNames.map((m) => h("th", { class: "num" }, m)),
            h("th", null, "Mode"), h("th", { class: "num" }, "Problems"), h("th", { class: "num" }, "Samples"), h("th", null, "Date"), h("th", null, "Commit"))),
          h("tbody", null, reports.map((r) => h("tr", null,
            h("td", null, h("a", { href: route("reports/report", { id: r.id }) }, r.task)),
            h("td", null, r.model),
            metricNames.map((m) => h("td", { class: "num score" }, m in r.metrics ? scoreBar(r.metrics[m]) : "–")),
            h("td", null, r.mode),
            h("td", { class: "num" }, fmtInt(r.n_problems)),
            h("td", { class: "num" }, fmtInt(r.n_samples)),
            h("td", null, r.date.slice(0, 16).replace("T", " ")),
            h("td", null, code(r.commit.slice(0, 10)))))))),
    );
  }

  private async report(id: string, verdict: string): Promise<void> {
    clear(this.root, h("p", { class: "muted" }, "Loading…"));
    let r: ReportDetail;
    try {
      r = await getJSON<ReportDetail>("/v1/reports/detail", { id });
    } catch (e) {
      clear(this.root, back(), notice("error", errorText(e)));
      return;
    }
    const chart = h("div", { class: "report-chart" });
    const problems = h("div", { "aria-live": "polite" });
    const filters = ["all", "failed", "passed"].map((v) =>
      h("a", { href: route("reports/report", { id, verdict: v }), class: "chip", "aria-current": v === verdict ? "page" : null }, v));
    clear(this.root,
      back(),
      h("header", { class: "page-head" }, h("h1", { id: "rp-title" }, `${r.task} `, h("span", { class: "muted" }, r.model)),
        h("p", { class: "lede" }, `mode ${r.mode} · ${fmtInt(r.n_problems)} problems · ${fmtInt(r.n_samples)} samples · ${r.date.slice(0, 16).replace("T", " ")} · commit `, code(r.commit.slice(0, 10)))),
      h("div", { class: "cards" }, Object.entries(r.metrics).sort((a, b) => metricOrder(a[0], b[0])).map(([k, v]) =>
        h("div", { class: "stat" }, h("div", { class: "stat-label" }, k), h("div", { class: "stat-value" }, fmtPct(v)))),
        h("div", { class: "stat" }, h("div", { class: "stat-label" }, "sample status"),
          h("div", { class: "stat-sub" }, Object.entries(r.statuses).map(([k, n]) => `${k} ${n}`).join(" · ")))),
      h("div", { class: "report-top" }, chart,
        h("details", { class: "panel" }, h("summary", null, h("h2", null, "report.md and settings")),
          h("div", { class: "md" }, renderMarkdown(r.markdown)),
          h("pre", { class: "front-matter" }, JSON.stringify({ sampling: r.sampling, model: r.model_info }, null, 2)))),
      h("div", { class: "panel" }, h("h2", null, "Per-problem results"), h("nav", { class: "chips", "aria-label": "show" }, filters), problems));
    if (r.chart) {
      try {
        this.chartURL = await objectURL("/v1/reports/chart", { id });
        chart.append(h("img", { src: this.chartURL, alt: `chart of ${r.task}: scores and sample statuses` }));
      } catch (e) {
        chart.append(notice("error", errorText(e)));
      }
    }
    await this.problems(problems, id, verdict, 0);
  }

  private async problems(box: HTMLElement, id: string, verdict: string, offset: number): Promise<void> {
    try {
      const r = await getJSON<{ total: number; samples: ProblemSample[] }>("/v1/reports/problems", { id, verdict, offset, limit: PAGE });
      const list = h("div", { class: "problems" }, r.samples.map(problem));
      const left = r.total - offset - r.samples.length;
      const more = left > 0 ? h("button", { type: "button", class: "more" }, `Show more (${fmtInt(left)} left)`) : null;
      more?.addEventListener("click", () => {
        more.remove();
        void this.problems(offset === 0 ? list : box, id, verdict, offset + PAGE);
      });
      if (offset === 0) clear(box, h("p", { class: "muted" }, `${fmtInt(r.total)} sample${r.total === 1 ? "" : "s"}`), list, more);
      else box.append(...list.childNodes, ...(more ? [more] : []));
    } catch (e) {
      box.append(notice("error", errorText(e)));
    }
  }
}

function problem(s: ProblemSample): HTMLElement {
  return h("details", { class: `problem ${s.passed ? "passed" : "failed"}` },
    h("summary", null,
      h("span", { class: `verdict ${s.passed ? "ok" : "bad"}` }, s.passed ? "passed" : s.status),
      h("span", { class: "task-id" }, s.task_id), s.sample ? h("span", { class: "muted" }, ` sample ${s.sample}`) : null,
      s.duration !== null ? h("span", { class: "muted small" }, ` ${s.duration.toFixed(2)} s`) : null),
    h("div", { class: "problem-body" },
      s.prompt !== null ? h("div", null, h("h4", null, "Prompt"), h("pre", { class: "code" }, s.prompt)) : h("p", { class: "muted small" }, "The samples file does not record the prompt."),
      h("h4", null, "Completion"), h("pre", { class: "code completion" }, s.completion || "(empty)"),
      s.stderr ? h("div", null, h("h4", null, "stderr"), h("pre", { class: "code stderr" }, s.stderr)) : null));
}

function scoreBar(v: number): HTMLElement {
  const bar = h("span", { class: "bar c1" });
  bar.style.width = `${100 * v}%`;
  return h("span", { class: "score-cell" }, h("span", { class: "score-track" }, bar), fmtPct(v));
}

function back(): HTMLElement {
  return h("p", null, h("a", { href: "#/reports", class: "back" }, "← Reports"));
}

/** pass@1, pass@10, pass@100, then the rest by name. */
function metricOrder(a: string, b: string): number {
  const k = (m: string) => (m.startsWith("pass@") ? Number(m.slice(5)) : 1e9);
  return k(a) - k(b) || a.localeCompare(b);
}
