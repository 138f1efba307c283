// Dataset explorer (`commons serve --dataset DIR`, any `commons curate` output): the
// dataset card, charts of files and bytes by language and licence and of exclusions by
// reason, search by repository, path or code snippet, and a file view with the file's
// licence, provenance and redactions.
import { errorText, getJSON, postJSON } from "./api";
import { licenceBadge, matchList } from "./attribution";
import { barChart } from "./charts";
import { clear, code, fmtBytes, fmtInt, h, notice, route } from "./dom";
import { LANGUAGES, languageFor, viewer } from "./editor";
import { renderMarkdown, splitFrontMatter } from "./markdown";
import type { Attribution, DatasetInfo, FileRow, FileView, RepoSummary } from "./types";

type Mode = "repo" | "path" | "code";

export class DatasetPage {
  readonly root = h("section", { class: "page", "aria-labelledby": "ds-title" });
  private info: DatasetInfo | null = null;
  private results = h("div", { class: "results", "aria-live": "polite" });
  private mode: Mode = "repo";

  async show(sub: string, params: URLSearchParams): Promise<void> {
    if (!this.info) {
      try {
        this.info = await getJSON<DatasetInfo>("/v1/dataset");
      } catch (e) {
        clear(this.root, h("header", { class: "page-head" }, h("h1", { id: "ds-title" }, "Dataset")), emptyState(errorText(e)));
        return;
      }
    }
    if (sub === "file") await this.file(params);
    else this.overview(params);
  }

  private overview(params: URLSearchParams): void {
    const info = this.info!;
    const st = info.stats;
    const excluded = Object.values(st.excluded).reduce((a, b) => a + b, 0);
    const redactions = Object.values(st.redactions).reduce((a, b) => a + b, 0);
    const { meta, body } = splitFrontMatter(info.card);
    const files = { name: "files", format: fmtInt, cls: "c1" };
    const bytes = { name: "bytes", format: fmtBytes, cls: "c2" };
    const rows = (t: Record<string, { files: number; bytes: number }>) =>
      Object.entries(t).map(([label, c]) => ({ label, values: [c.files, c.bytes] }));
    clear(this.root,
      h("header", { class: "page-head" },
        h("h1", { id: "ds-title" }, "Dataset"),
        h("p", { class: "lede" }, "Curated by ", code("commons curate"), ", served from ", code(info.path), ".")),
      h("div", { class: "cards" },
        card("Files kept", fmtInt(st.kept_files), `of ${fmtInt(st.total_files)} read`),
        card("Code kept", fmtBytes(st.kept_bytes)),
        card("Repositories", fmtInt(info.repos)),
        card("Files excluded", fmtInt(excluded), `${Object.keys(st.excluded).length} reasons`),
        card("Redactions", fmtInt(redactions), Object.entries(st.redactions).map(([k, v]) => `${k} ${v}`).join(", ") || "none")),
      h("div", { class: "charts" },
        barChart("By language", [files, bytes], rows(st.languages)),
        barChart("By licence", [files, bytes], rows(st.licenses)),
        barChart("Excluded, by reason", [{ name: "files", format: fmtInt, cls: "c3" }],
          Object.entries(st.excluded).sort((a, b) => b[1] - a[1]).map(([label, n]) => ({ label, values: [n] })))),
      this.searchPanel(params),
      h("details", { class: "panel card-md", open: true },
        h("summary", null, h("h2", null, "Dataset card"), h("span", { class: "muted" }, " README.md")),
        meta ? h("pre", { class: "front-matter", "aria-label": "card metadata" }, meta) : null,
        h("div", { class: "md" }, renderMarkdown(body))),
    );
    const q = params.get("q");
    const m = params.get("mode") as Mode | null;
    if (q && m) void this.search(m, q);
  }

  private searchPanel(params: URLSearchParams): HTMLElement {
    const input = h("input", { type: "search", placeholder: "", "aria-label": "search", value: params.get("q") ?? "" });
    const snippet = h("textarea", { rows: 8, class: "mono", placeholder: "Paste code (about 150 characters or more of code, not counting whitespace and comments)", "aria-label": "code snippet" });
    const langSel = h("select", { "aria-label": "snippet language" }, h("option", { value: "" }, "any language"),
      LANGUAGES.filter((l) => l.id !== "text").map((l) => h("option", { value: l.id }, l.label)));
    const tabs: [Mode, string, string][] = [
      ["repo", "Repository", "e.g. pypi/h11 or github.com/org/repo (part of the name is enough)"],
      ["path", "Path", "part of a path, or a glob such as */tests/*.py"],
      ["code", "Code snippet", "matched through the attribution index, ignoring formatting, comments and names"],
    ];
    const hint = h("div", { class: "hint" });
    const textRow = h("div", { class: "search-row" }, input, h("button", { type: "submit", class: "primary" }, "Search"));
    const codeRow = h("div", { class: "search-code" }, snippet, h("div", { class: "search-row" }, langSel, h("button", { type: "submit", class: "primary" }, "Find copies")));
    const buttons = tabs.map(([m, label]) => h("button", { type: "button", role: "tab", "aria-selected": String(m === this.mode), onclick: () => select(m) }, label));
    const select = (m: Mode) => {
      this.mode = m;
      buttons.forEach((b, i) => b.setAttribute("aria-selected", String(tabs[i][0] === m)));
      hint.textContent = tabs.find((t) => t[0] === m)![2];
      textRow.hidden = m === "code";
      codeRow.hidden = m !== "code";
      input.placeholder = m === "repo" ? "repository" : "path";
      if (m === "code" && !this.info!.snippet_search) clear(this.results, notice("info", "Snippet search needs a code index: start the server with ", code("--index INDEX"), " (built by ", code("commons index build DATASET"), ")."));
    };
    const form = h("form", { class: "search", role: "search", onsubmit: (e: Event) => {
      e.preventDefault();
      if (this.mode === "code") void this.searchCode(snippet.value, langSel.value);
      else if (input.value.trim()) void this.search(this.mode, input.value.trim());
    } }, h("div", { class: "tabs", role: "tablist", "aria-label": "search by" }, buttons), textRow, codeRow, hint);
    select((params.get("mode") as Mode) ?? this.mode);
    return h("div", { class: "panel" }, h("h2", null, "Search"), form, this.results);
  }

  private async search(mode: Mode, q: string): Promise<void> {
    history.replaceState(null, "", route("dataset", { mode, q }));
    clear(this.results, h("p", { class: "muted" }, "Searching…"));
    try {
      if (mode === "repo") {
        const r = await getJSON<{ total: number; repos: RepoSummary[] }>("/v1/dataset/repos", { q, limit: 50 });
        clear(this.results, repoTable(r.total, r.repos, (repo) => void this.listFiles({ repo, exact: "1" })));
        if (r.repos.length === 1) await this.listFiles({ repo: r.repos[0].repo, exact: "1" }, true);
      } else {
        await this.listFiles({ path: q });
      }
    } catch (e) {
      clear(this.results, notice("error", errorText(e)));
    }
  }

  private async listFiles(params: Record<string, string>, append = false): Promise<void> {
    const r = await getJSON<{ total: number; files: FileRow[] }>("/v1/dataset/files", { ...params, limit: 100 });
    const table = fileTable(r.total, r.files, params.repo ? `Files of ${params.repo}` : "Files");
    if (append) this.results.append(table);
    else clear(this.results, table);
  }

  private async searchCode(text: string, lang: string): Promise<void> {
    if (!text.trim()) return;
    clear(this.results, h("p", { class: "muted" }, "Looking for copies…"));
    try {
      const r = await postJSON<{ matches: Attribution[]; min_chars: number }>("/v1/dataset/search/code", { input: text, language: lang || undefined });
      clear(this.results, r.matches.length
        ? h("div", null, h("p", null, `${r.matches.length} indexed file${r.matches.length > 1 ? "s" : ""} hold this code:`), matchList(r.matches, true))
        : notice("info", `No indexed file holds this code (a match needs ${r.min_chars} normalised characters in common).`));
    } catch (e) {
      clear(this.results, notice("error", errorText(e)));
    }
  }

  private async file(params: URLSearchParams): Promise<void> {
    const repo = params.get("repo") ?? "";
    const path = params.get("path") ?? "";
    clear(this.root, h("p", { class: "muted" }, "Loading…"));
    let f: FileView;
    try {
      f = await getJSON<FileView>("/v1/dataset/file", { repo, path });
    } catch (e) {
      clear(this.root, backLink(), notice("error", errorText(e)));
      return;
    }
    const hl = (params.get("hl") ?? "").match(/^(\d+)-(\d+)$/);
    const spans: [number, number][] = hl ? [[Number(hl[1]), Number(hl[2])]] : [];
    const redactions = Object.entries(f.redactions).filter(([, n]) => n);
    const total = redactions.reduce((a, [, n]) => a + n, 0);
    const box = h("div", { class: "viewer" });
    clear(this.root,
      backLink(),
      h("header", { class: "page-head" }, h("h1", { id: "ds-title", class: "file-title" }, h("span", { class: "muted" }, `${f.repo} / `), f.path)),
      h("dl", { class: "facts" },
        fact("Licence", licenceBadge(f.license, f.license_type), ` ${f.license_type}`),
        fact("Repository", h("a", { href: route("dataset", { mode: "repo", q: f.repo }) }, f.repo)),
        fact("Path", f.path),
        fact("Language", f.language),
        fact("Size", fmtBytes(f.size)),
        fact("Redactions", total ? `${total} (${redactions.map(([k, n]) => `${k} ${n}`).join(", ")})` : "none"),
        fact("SHA-256", h("code", { class: "hash" }, f.sha256)),
        fact("Shard", h("code", null, f.shard))),
      spans.length ? notice("info", `The highlighted characters ${spans[0][0]}–${spans[0][1]} are what the suggestion or snippet matched.`) : null,
      box);
    viewer(box, f.content, languageFor(f.language), `${f.repo}/${f.path}`, spans);
  }
}

function card(label: string, value: string, sub?: string): HTMLElement {
  return h("div", { class: "stat" }, h("div", { class: "stat-label" }, label), h("div", { class: "stat-value" }, value), sub ? h("div", { class: "stat-sub" }, sub) : null);
}

function fact(label: string, ...value: (Node | string)[]): HTMLElement[] {
  return [h("dt", null, label), h("dd", null, ...value)];
}

function backLink(): HTMLElement {
  return h("p", null, h("a", { href: "#/dataset", class: "back" }, "← Dataset"));
}

function emptyState(message: string): HTMLElement {
  return h("div", { class: "empty" },
    h("p", null, message),
    h("p", null, "Start the server with ", code("commons serve --dataset DIR"), " where DIR is any ", code("commons curate"), " output (DIR/data/*.parquet)."));
}

/** Column headers; "Name:num" right-aligns a numeric column. */
function header(names: string[]): HTMLElement[] {
  return names.map((n) => {
    const [label, cls] = n.split(":");
    return h("th", { class: cls || null, scope: "col" }, label);
  });
}

export function repoTable(total: number, repos: RepoSummary[], open: (repo: string) => void): HTMLElement {
  if (!repos.length) return notice("info", "No repository in the dataset matches.");
  return h("div", null,
    h("p", { class: "muted" }, `${fmtInt(total)} repositor${total === 1 ? "y" : "ies"}${total > repos.length ? `, first ${repos.length}` : ""}`),
    h("table", { class: "grid" },
      h("thead", null, h("tr", null, header(["Repository", "Files:num", "Size:num", "Licences", "Excluded"]))),
      h("tbody", null, repos.map((r) => h("tr", null,
        h("td", null, h("button", { type: "button", class: "link", onclick: () => open(r.repo) }, r.repo)),
        h("td", { class: "num" }, fmtInt(r.files)),
        h("td", { class: "num" }, fmtBytes(r.bytes)),
        h("td", null, r.licenses.join(", ")),
        h("td", null, Object.entries(r.excluded).map(([k, n]) => `${k} ${n}`).join(", ") || "–"))))));
}

export function fileTable(total: number, files: FileRow[], caption: string): HTMLElement {
  if (!files.length) return notice("info", "No file in the dataset matches.");
  return h("div", null,
    h("h3", null, caption, h("span", { class: "muted" }, ` ${fmtInt(total)} file${total === 1 ? "" : "s"}${total > files.length ? `, first ${files.length}` : ""}`)),
    h("table", { class: "grid" },
      h("thead", null, h("tr", null, header(["Path", "Repository", "Language", "Licence", "Size:num", "Redactions:num"]))),
      h("tbody", null, files.map((f) => h("tr", null,
        h("td", { class: "path" }, h("a", { href: route("dataset/file", { repo: f.repo, path: f.path }) }, f.path)),
        h("td", null, f.repo),
        h("td", null, f.language),
        h("td", null, licenceBadge(f.license, f.license_type)),
        h("td", { class: "num" }, fmtBytes(f.size)),
        h("td", { class: "num" }, String(Object.values(f.redactions).reduce((a, b) => a + b, 0))))))));
}
