// The shell: navigation between the pages (hash routes, so the server serves one
// index.html), the API key dialog, and the server summary in the header.
import "./style.css";
import { ApiError, apiKey, errorText, getJSON, onUnauthorized, setApiKey } from "./api";
import { DatasetPage } from "./dataset";
import { clear, h, notice } from "./dom";
import { OptOutPage } from "./optout";
import { Playground } from "./playground";
import { ReportsPage } from "./reports";
import { StatusPage } from "./status";
import type { Status } from "./types";

const PAGES = [
  { id: "playground", label: "Playground" },
  { id: "dataset", label: "Dataset" },
  { id: "optout", label: "Is my code in it?" },
  { id: "reports", label: "Reports" },
  { id: "status", label: "Status" },
];

class App {
  private main = document.getElementById("main")!;
  private nav = document.getElementById("nav")!;
  private server = document.getElementById("server")!;
  private dialog = document.getElementById("key-dialog") as HTMLDialogElement;
  private status: Status | null = null;
  private playground: Playground | null = null;
  private dataset = new DatasetPage();
  private optout = new OptOutPage();
  private reports = new ReportsPage();
  private statusPage = new StatusPage();
  private current = "";

  constructor() {
    clear(this.nav, PAGES.map((p) => h("a", { href: `#/${p.id}`, "data-page": p.id }, p.label)));
    onUnauthorized(() => this.askKey());
    const form = this.dialog.querySelector("form")!;
    const input = this.dialog.querySelector("input")!;
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      setApiKey(input.value.trim());
      input.value = "";
      this.dialog.close();
      this.status = null;
      void this.route();
    });
    document.getElementById("key-button")!.addEventListener("click", () => this.askKey());
    // the skip link must not change the hash (the router owns it)
    document.querySelector(".skip")!.addEventListener("click", (e) => {
      e.preventDefault();
      this.main.focus();
    });
    window.addEventListener("hashchange", () => void this.route());
    void this.route();
  }

  private askKey(): void {
    if (!this.dialog.open) this.dialog.showModal();
  }

  private async ensureStatus(): Promise<Status | null> {
    if (this.status) return this.status;
    try {
      this.status = await getJSON<Status>("/v1/status");
    } catch (e) {
      const needKey = e instanceof ApiError && e.status === 401;
      clear(this.main, notice(needKey ? "info" : "error", needKey
        ? (apiKey() ? "That API key was refused. " : "This server needs an API key. ")
        : `The server did not answer: ${errorText(e)}`,
        needKey ? h("button", { type: "button", onclick: () => this.askKey() }, "Enter the key") : null));
      return null;
    }
    const s = this.status;
    document.getElementById("key-button")!.hidden = !s.api_key;
    clear(this.server, h("span", { class: "server-model", title: `${s.model.family}, ${s.model.license}` }, s.model.id),
      h("span", { class: "muted" }, ` · ${s.engine} · ${s.n_ctx} tokens`));
    return s;
  }

  private async route(): Promise<void> {
    const [path, query] = (location.hash.replace(/^#\/?/, "") || "playground").split("?");
    const [page, sub = ""] = path.split("/");
    const params = new URLSearchParams(query ?? "");
    const status = await this.ensureStatus();
    if (!status) return;
    this.nav.querySelectorAll("a").forEach((a) => a.toggleAttribute("aria-current", a.dataset.page === page));
    if (this.current === "status" && page !== "status") this.statusPage.hide();
    this.current = page;
    const titled = PAGES.find((p) => p.id === page)?.label ?? "Playground";
    document.title = `${titled} · Code Commons`;
    try {
      switch (page) {
        case "dataset":
          this.mount(this.dataset.root);
          await this.dataset.show(sub, params);
          break;
        case "optout":
          this.mount(this.optout.root);
          await this.optout.show(status);
          break;
        case "reports":
          this.mount(this.reports.root);
          await this.reports.show(sub, params);
          break;
        case "status":
          this.mount(this.statusPage.root);
          await this.statusPage.show();
          break;
        default: {
          // focus before any await: keys typed while /v1/models loads reach the editor
          const fresh = !this.playground;
          this.playground ??= new Playground();
          this.mount(this.playground.root);
          this.playground.focus();
          if (fresh) await this.playground.load(status);
        }
      }
    } catch (e) {
      this.main.append(notice("error", errorText(e)));
    }
    window.scrollTo(0, 0);
  }

  /** Pages keep their state (the editor's text, a search) when the user comes back. */
  private mount(root: HTMLElement): void {
    if (this.main.firstElementChild !== root || this.main.childElementCount !== 1) clear(this.main, root);
  }
}

new App();
