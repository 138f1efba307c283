// "Is my code in it?" and opt-out, as BigCode's "Am I in The Stack?": search the loaded
// dataset by repository, by author (name or email in the files' text) or by pasted code,
// then ask for removal. The form records a pending request in the opt-out registry's
// queue and removes nothing: an administrator reviews it (`commons optout pending`,
// `commons optout approve ID`, or the list below with the API key), and once approved the
// next curation run, `commons index remove-repo` and the next training run exclude it.
import { ApiError, errorText, getJSON, postJSON } from "./api";
import { matchList } from "./attribution";
import { clear, code, field, fmtInt, h, notice } from "./dom";
import { fileTable, repoTable } from "./dataset";
import type { Attribution, Excluded, FileRow, OptOutRequest, RepoSummary, Status } from "./types";

type Mode = "repo" | "author" | "code";

export class OptOutPage {
  readonly root = h("section", { class: "page", "aria-labelledby": "oo-title" });
  private results = h("div", { class: "results", "aria-live": "polite" });
  private repos = h("textarea", { rows: 3, placeholder: "github.com/you/project\npypi/your-package", required: false });
  private admin = h("div");
  private status: Status | null = null;

  constructor() {
    const mode = { value: "repo" as Mode };
    const input = h("input", { type: "search", "aria-label": "repository or author" });
    const pasted = h("textarea", { rows: 7, class: "mono", "aria-label": "your code", placeholder: "Paste a function or a file of yours" });
    const textRow = h("div", { class: "search-row" }, input, h("button", { type: "submit", class: "primary" }, "Check"));
    const codeRow = h("div", { class: "search-code" }, pasted, h("div", { class: "search-row" }, h("button", { type: "submit", class: "primary" }, "Check")));
    const tabs: [Mode, string, string][] = [
      ["repo", "Repository", "github.com/you/project, a clone URL, or pypi/name: part of the name is enough"],
      ["author", "Author", "your name or email as written in file headers (emails in the dataset are redacted, so a name finds more)"],
      ["code", "Paste code", "found even reformatted or with names changed, through the attribution index"],
    ];
    const hint = h("div", { class: "hint" });
    const buttons = tabs.map(([m, label]) => h("button", { type: "button", role: "tab", "aria-selected": String(m === mode.value), onclick: () => select(m) }, label));
    const select = (m: Mode) => {
      mode.value = m;
      buttons.forEach((b, i) => b.setAttribute("aria-selected", String(tabs[i][0] === m)));
      hint.textContent = tabs.find((t) => t[0] === m)![2];
      textRow.hidden = m === "code";
      codeRow.hidden = m !== "code";
      input.placeholder = m === "repo" ? "github.com/you/project" : "Jane Doe or jane@example.org";
    };
    select("repo");
    const search = h("form", { class: "search", role: "search", onsubmit: (e: Event) => {
      e.preventDefault();
      void this.check(mode.value, mode.value === "code" ? pasted.value : input.value.trim());
    } }, h("div", { class: "tabs", role: "tablist", "aria-label": "check by" }, buttons), textRow, codeRow, hint);

    clear(this.root,
      h("header", { class: "page-head" },
        h("h1", { id: "oo-title" }, "Is my code in it?"),
        h("p", { class: "lede" }, "Check whether the dataset this server was started with holds your code, and ask for it to be left out of future datasets, indexes and training runs.")),
      h("div", { class: "panel" }, h("h2", null, "Check"), search, this.results),
      h("div", { class: "panel" }, h("h2", null, "Ask to opt out"), this.form()),
      this.admin);
  }

  async show(status: Status): Promise<void> {
    this.status = status;
    if (status.optout_admin) await this.loadPending();
    else clear(this.admin);
  }

  private async check(mode: Mode, q: string): Promise<void> {
    if (!q.trim()) return;
    if (!this.status?.dataset) {
      clear(this.results, notice("info", "This server has no dataset loaded (", code("commons serve --dataset DIR"), "), so there is nothing to check against; you can still ask to opt out below."));
      return;
    }
    clear(this.results, h("p", { class: "muted" }, "Checking…"));
    try {
      if (mode === "repo") await this.checkRepo(q);
      else if (mode === "author") await this.checkAuthor(q);
      else await this.checkCode(q);
    } catch (e) {
      clear(this.results, notice("error", errorText(e)));
    }
  }

  private async checkRepo(q: string): Promise<void> {
    const r = await getJSON<{ total: number; repos: RepoSummary[] }>("/v1/dataset/repos", { q, limit: 20 });
    const ex = await getJSON<{ total: number; files: Excluded[] }>("/v1/dataset/excluded", { repo: q, limit: 20 });
    const kept = r.repos.reduce((a, x) => a + x.files, 0);
    const verdict = r.total
      ? notice("warn", h("strong", null, "Yes. "), `${fmtInt(kept)} file${kept === 1 ? "" : "s"} from ${r.total} matching ` +
        `repositor${r.total === 1 ? "y" : "ies"} ${kept === 1 ? "is" : "are"} in this dataset.`)
      : notice("ok", h("strong", null, "No. "), `No file from a repository matching “${q}” is in this dataset.`);
    clear(this.results, verdict,
      r.total ? repoTable(r.total, r.repos, (repo) => this.prefill(repo)) : null,
      ex.total ? h("div", null,
        h("h3", null, `Read but excluded (${fmtInt(ex.total)})`),
        h("p", { class: "muted" }, "These files were read and dropped by curation, with the reason:"),
        h("table", { class: "grid" }, h("thead", null, h("tr", null, h("th", null, "Repository"), h("th", null, "Path"), h("th", null, "Reason"))),
          h("tbody", null, ex.files.map((f) => h("tr", null, h("td", null, f.repo), h("td", { class: "path" }, f.path), h("td", null, f.reason)))))) : null,
      r.total ? h("p", null, h("button", { type: "button", onclick: () => this.prefill(...r.repos.map((x) => x.repo)) }, "Ask to opt these repositories out")) : null);
  }

  private async checkAuthor(q: string): Promise<void> {
    const r = await getJSON<{ total: number; scanned: number; files: FileRow[] }>("/v1/dataset/authors", { q, limit: 50 });
    clear(this.results,
      r.total
        ? notice("warn", h("strong", null, "Yes. "), `${fmtInt(r.total)} file${r.total === 1 ? "" : "s"} of ${fmtInt(r.scanned)} mention${r.total === 1 ? "s" : ""} “${q}”.`)
        : notice("ok", h("strong", null, "Not found. "), `No file of ${fmtInt(r.scanned)} mentions “${q}”. Emails are redacted in curated datasets: check your repositories too.`),
      r.total ? fileTable(r.total, r.files, "Files that mention it") : null);
  }

  private async checkCode(text: string): Promise<void> {
    const r = await postJSON<{ matches: Attribution[]; min_chars: number }>("/v1/dataset/search/code", { input: text });
    clear(this.results, r.matches.length
      ? h("div", null, notice("warn", h("strong", null, "Yes. "), `${r.matches.length} indexed file${r.matches.length === 1 ? " holds" : "s hold"} this code.`), matchList(r.matches, true),
        h("p", null, h("button", { type: "button", onclick: () => this.prefill(...new Set(r.matches.map((m) => m.repo))) }, "Ask to opt these repositories out")))
      : notice("ok", h("strong", null, "Not found. "), `No indexed file holds this code (a match needs ${r.min_chars} normalised characters in common).`));
  }

  private prefill(...repos: string[]): void {
    const have = new Set(this.repos.value.split("\n").map((s) => s.trim()).filter(Boolean));
    repos.forEach((r) => have.add(r));
    this.repos.value = [...have].join("\n");
    this.repos.focus();
  }

  private form(): HTMLElement {
    const name = h("input", { type: "text", required: true, maxlength: 200, autocomplete: "name" });
    const contact = h("input", { type: "email", required: true, maxlength: 320, autocomplete: "email" });
    const authors = h("textarea", { rows: 2, placeholder: "jane@example.org" });
    const note = h("textarea", { rows: 2, maxlength: 2000 });
    const out = h("div", { "aria-live": "polite" });
    const submit = h("button", { type: "submit", class: "primary" }, "Send request");
    const lines = (t: HTMLTextAreaElement) => t.value.split(/[\n,]/).map((s) => s.trim()).filter(Boolean);
    const form = h("form", { class: "optout-form", onsubmit: async (e: Event) => {
      e.preventDefault();
      submit.disabled = true;
      try {
        const r = await postJSON<{ request: OptOutRequest }>("/v1/optout/requests", {
          name: name.value, contact: contact.value, repos: lines(this.repos), authors: lines(authors), note: note.value,
        });
        clear(out, notice("ok", h("strong", null, "Request recorded. "), `Its id is `, code(r.request.id),
          `: it is pending review. Nothing is removed until an administrator approves it; from then on the next curation run, `,
          code("commons index remove-repo"), " and the next training run leave it out. We will write to ", r.request.contact, "."));
        form.reset();
        this.repos.value = "";
        if (this.status?.optout_admin) await this.loadPending();
      } catch (err) {
        clear(out, notice("error", err instanceof ApiError && err.status === 429 ? `Too many requests from this address: ${err.message}` : errorText(err)));
      } finally {
        submit.disabled = false;
      }
    } },
      h("div", { class: "form-grid" },
        field("Your name", name),
        field("Contact email", contact, "where we confirm the decision"),
        field("Repositories", this.repos, "one a line: github.com/org/repo, github.com/org/* for all of them, pypi/name"),
        field("Author emails", authors, "one a line: files that credit these addresses in their headers")),
      field("Note (optional)", note),
      h("div", { class: "form-actions" }, submit, h("span", { class: "muted small" }, "A few requests per hour per address are accepted.")),
      out);
    return form;
  }

  private async loadPending(): Promise<void> {
    try {
      const r = await getJSON<{ requests: OptOutRequest[] }>("/v1/optout/requests");
      clear(this.admin, h("div", { class: "panel" },
        h("h2", null, "Pending requests ", h("span", { class: "muted" }, `(${r.requests.length}) · administrators`)),
        r.requests.length ? h("table", { class: "grid" },
          h("thead", null, h("tr", null, ["Id", "Who", "Repositories", "Authors", "Note", "Received", ""].map((c) => h("th", null, c)))),
          h("tbody", null, r.requests.map((q) => h("tr", null,
            h("td", null, code(q.id)), h("td", null, q.name, h("br"), h("span", { class: "muted" }, q.contact)),
            h("td", null, q.repos.join("\n")), h("td", null, q.authors.join("\n")), h("td", null, q.note),
            h("td", null, q.created.slice(0, 16).replace("T", " ")),
            h("td", { class: "actions" },
              h("button", { type: "button", onclick: () => this.decide(q.id, "approve") }, "Approve"),
              h("button", { type: "button", class: "danger", onclick: () => this.decide(q.id, "reject") }, "Reject"))))))
          : h("p", { class: "muted" }, "No pending request.")));
    } catch (e) {
      clear(this.admin, notice("error", errorText(e)));
    }
  }

  private async decide(id: string, action: "approve" | "reject"): Promise<void> {
    try {
      const r = await postJSON<{ message: string }>(`/v1/optout/requests/${encodeURIComponent(id)}/${action}`, {});
      await this.loadPending();
      this.admin.prepend(notice("ok", r.message));
    } catch (e) {
      this.admin.prepend(notice("error", errorText(e)));
    }
  }
}
