"""The web UI in a real browser: Playwright for Python driving Debian's chromium
(headless, the system binary; `make test` installs it) against a real
`commons serve` app on the tiny GGUF, with a dataset curated by `commons curate`
(click, h11 and idna from this Python installation, plus a local repository with
planted HTML), its code index, and evaluation reports made by `commons eval`.

Planted prompts (`# planted: h11`, ...) make the engine answer with a copy of an
indexed function (tests/ui/data.py PlantedEngine); everything else is the tiny
model's own output. Screenshots of each page go to tests/ui/artifacts/.

    python -m pytest tests/ui/test_browser.py -q        # ~2 min (curation ~40 s)
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from codecommons.serve.app import ServeOptions
from codecommons.serve.public_code import PublicCodePolicy
from tests.serve.live import running_server
from tests.ui.data import AUTHOR, XSS, PlantedEngine, eval_report, widgets_repo

pytestmark = pytest.mark.browser
sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (the dev extra)")

CHROMIUM = os.environ.get("COMMONS_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).parent / "artifacts"
SOURCE = "python-env:pypi/click,pypi/h11,pypi/idna"
PLANTED = {"h11": ("h11/_readers.py", "_obsolete_line_fold"), "idna": ("idna/core.py", "check_hyphen_ok")}
WAIT_MS = 30_000


class SlowEngine(PlantedEngine):
    """`# slow` prompts stream a long answer slowly and record whether the server
    cancelled them (the client went away)."""

    started = threading.Event()
    cancelled = threading.Event()

    def generate(self, prompt, params, cancel, key="", stats=None):
        if "# slow" not in "".join(seg.text for seg in prompt):
            return super().generate(prompt, params, cancel, key, stats)
        return self._slow(cancel)

    def _slow(self, cancel):
        from codecommons.engines.base import Token

        SlowEngine.started.set()
        for _ in range(200):
            if cancel.is_set():
                SlowEngine.cancelled.set()
                return
            time.sleep(0.05)
            yield Token(-1, "x = 1\n")


def function_source(rows, repo: str, path: str, name: str) -> str:
    content = next(r["content"] for r in rows if r["repo"] == repo and r["path"] == path)
    node = next(n for n in ast.parse(content).body if isinstance(n, ast.FunctionDef) and n.name == name)
    return ast.get_source_segment(content, node)


@pytest.fixture(scope="module")
def site(tmp_path_factory, tiny_gguf):
    """Dataset, index and reports, made by the real CLI stages."""
    import pyarrow.parquet as pq

    from codecommons.attribution.cli import index_main
    from codecommons.data.pipeline import main as curate_main
    from codecommons.eval.cli import main as eval_main

    root = tmp_path_factory.mktemp("ui-site")
    repo = widgets_repo(root / "repos")
    assert curate_main([SOURCE, str(repo), "--out", str(root / "ds"), "--no-progress"]) == 0
    assert index_main(["build", str(root / "ds"), "--out", str(root / "index.sqlite"), "--quiet"]) == 0
    eval_report(root / "reports" / "planted")
    assert eval_main(["run", "humaneval", "--model", str(tiny_gguf), "--limit", "2", "--max-new-tokens", "16",
                      "--n-ctx", "512", "--out", str(root / "reports" / "tiny"), "--allow-code-execution"]) == 0
    rows = [r for f in sorted((root / "ds" / "data").glob("*.parquet")) for r in pq.read_table(f).to_pylist()]
    planted = {repo: function_source(rows, f"pypi/{repo}", *where) for repo, where in PLANTED.items()}
    return root, planted


@pytest.fixture(scope="module")
def queue(tmp_path_factory):
    from codecommons.optout import requests

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COMMONS_HOME", str(tmp_path_factory.mktemp("commons-home")))
        yield requests


@pytest.fixture(scope="module")
def url(site, gguf_engine, queue):
    root, planted = site
    engine = SlowEngine(gguf_engine, {"# planted: h11": planted["h11"] + "\n",
                                      "# planted: idna": planted["idna"] + "\n",
                                      "# xss": XSS + "\n"})
    # idna's licence (BSD-3-Clause) is blocked, h11's (MIT) annotated
    policy = PublicCodePolicy.open(str(root / "index.sqlite"), "block", ("BSD-3-Clause",))
    opts = ServeOptions(dataset=str(root / "ds"), reports=str(root / "reports"), public_code=policy)
    with running_server(engine, opts) as u:
        yield u


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no chromium at {CHROMIUM}: apt-get install chromium (make test does)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


class Page:
    """A fresh browser context on the UI, recording what must never happen: a
    script from data running (window.__pwned), a page error, a CSP violation."""

    def __init__(self, browser, base: str):
        self.context = browser.new_context(viewport={"width": 1400, "height": 900})
        self.page = self.context.new_page()
        self.base = base
        self.errors: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        self.page.add_init_script(
            "window.__csp = []; document.addEventListener('securitypolicyviolation', e => "
            "window.__csp.push([e.effectiveDirective, e.sourceFile, e.sample]))")

    def open(self, route: str = "playground"):
        self.page.goto(f"{self.base}/ui/#/{route}")
        return self.page

    def shot(self, name: str, full_page: bool = False) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=full_page)

    def check_clean(self) -> None:
        assert self.page.evaluate("window.__pwned") is None, "a planted script ran"
        # Chromium's own contenteditable editing may try a style attribute in the editor
        # (no source file: not a script; blocked, harmless: CodeMirror redraws); anything
        # else is ours and a defect.
        csp = [v for v in self.page.evaluate("window.__csp") if not (v[0] == "style-src-attr" and not v[1])]
        assert not csp, csp
        assert not self.errors, self.errors


@pytest.fixture
def ui(browser, url):
    p = Page(browser, url)
    yield p
    p.check_clean()
    p.context.close()


def editor_type(page, text: str) -> None:
    page.locator(".cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.press("Delete")
    page.keyboard.type(text)


def wait_until(condition, page, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:
        page.wait_for_timeout(50)


def doc(page) -> str:
    return page.locator(".cm-content").inner_text()


# -- playground --------------------------------------------------------------------

def test_type_and_accept_a_completion_with_its_licence_badge(ui, site):
    _, planted = site
    page = ui.open()
    editor_type(page, "import h11\n\n# planted: h11\n")
    badge = page.locator(".suggestion-bar .match .badge")
    badge.wait_for(timeout=WAIT_MS)
    assert badge.inner_text() == "MIT" and "lic-permissive" in badge.get_attribute("class")
    assert "pypi/h11 · h11/_readers.py" in page.locator(".suggestion-bar .match-source").inner_text()
    page.locator(".suggestion-bar .badge.suggestion", has_text="suggestion").wait_for(timeout=WAIT_MS)
    assert page.locator(".cm-ghost-match").count() >= 1  # the matched span is marked in the ghost text
    assert "first token" in page.locator(".suggestion-bar .stats").inner_text()
    ui.shot("playground")
    page.keyboard.press("Tab")
    first_line = planted["h11"].splitlines()[0]
    page.locator(".cm-attributed").first.wait_for(timeout=WAIT_MS)
    assert first_line in doc(page) and page.locator(".cm-ghost").count() == 0
    assert "h11/_readers.py" in page.locator(".cm-attributed").first.get_attribute("title")


def test_escape_dismisses_and_a_blocked_suggestion_says_why(ui):
    page = ui.open()
    editor_type(page, "# planted: idna\n")
    page.locator(".suggestion-bar .badge.blocked").wait_for(timeout=WAIT_MS)
    bar = page.locator(".suggestion-bar").inner_text()
    assert "Withheld" in bar and "pypi/idna/idna/core.py" in bar and "BSD-3-Clause" in bar
    assert page.locator(".cm-ghost").count() == 0
    ui.shot("playground-blocked")
    editor_type(page, "# planted: h11\n")
    page.locator(".cm-ghost").wait_for(timeout=WAIT_MS)
    page.keyboard.press("Escape")
    assert page.locator(".cm-ghost").count() == 0 and doc(page).strip() == "# planted: h11"


def test_the_tiny_model_completes_and_a_superseded_request_is_cancelled(ui):
    page = ui.open()
    failed = []
    page.on("requestfailed", lambda r: failed.append((r.url, r.failure)))
    editor_type(page, "def add(a, b):\n")
    page.locator(".suggestion-bar .stats").wait_for(timeout=WAIT_MS)  # the real model answered
    SlowEngine.started.clear()
    SlowEngine.cancelled.clear()
    editor_type(page, "# slow\n")
    wait_until(SlowEngine.started.is_set, page)  # generating now
    page.keyboard.type("y")  # supersedes it
    wait_until(SlowEngine.cancelled.is_set, page)
    assert SlowEngine.cancelled.is_set(), "the server did not see the abort"
    assert any(u.endswith("/v1/completions") for u, _ in failed)


def test_model_output_is_shown_as_text(ui):
    page = ui.open()
    editor_type(page, "# xss\n")
    ghost = page.locator(".cm-ghost")
    ghost.wait_for(timeout=WAIT_MS)
    assert "<script>" in ghost.inner_text() and page.locator(".cm-editor img:not(.cm-widgetBuffer), .cm-editor script").count() == 0
    page.keyboard.press("Tab")
    assert XSS in doc(page)
    chat = page.locator(".chat textarea")
    chat.fill("# xss what does it do?")
    page.keyboard.press("Control+Enter")
    answer = page.locator(".msg-assistant .msg-body")
    page.locator(".msg-assistant .stats").wait_for(timeout=WAIT_MS)
    assert "<script>" in answer.inner_text() and answer.locator("img, script").count() == 0


def test_chat_streams_an_answer_about_the_code(ui):
    page = ui.open()
    editor_type(page, "def add(a, b):\n    return a + b\n")
    page.locator(".chat textarea").fill("What does add do?")
    page.get_by_role("button", name="Send").click()
    stats = page.locator(".msg-assistant .stats")
    stats.wait_for(timeout=WAIT_MS)
    assert "first token" in stats.inner_text()
    assert page.locator(".msg-user").inner_text() == "What does add do?"
    ui.shot("playground-chat")


def test_keyboard_only(ui):
    page = ui.open()
    # the editor has focus on arrival; type, ask, accept with the keyboard alone
    page.locator(".cm-editor.cm-focused").wait_for(timeout=WAIT_MS)
    page.keyboard.press("Control+a")
    page.keyboard.type("# planted: h11\n")
    page.locator(".cm-ghost").wait_for(timeout=WAIT_MS)
    page.keyboard.press("Tab")
    assert "def _obsolete_line_fold" in doc(page)
    page.keyboard.press("Control+a")
    page.keyboard.type("total = sum(range(10))")  # short: the tiny model's context is 512 tokens
    # Escape then Tab leaves the editor for the chat box; Ctrl+Enter sends
    page.keyboard.press("Escape")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == "question"
    page.keyboard.type("What is total?")
    page.keyboard.press("Control+Enter")
    page.locator(".msg-assistant .stats").wait_for(timeout=WAIT_MS)
    # every page is reachable from the navigation by keyboard
    page.locator("#nav a").first.focus()
    for _ in range(3):
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    assert page.url.endswith("#/reports")


# -- dataset -------------------------------------------------------------------------

def test_dataset_card_charts_search_and_file(ui):
    page = ui.open("dataset")
    page.locator(".md h1", has_text="Curated code dataset").wait_for(timeout=WAIT_MS)
    charts = page.locator("figure.chart")
    assert charts.count() == 3
    assert "Python" in charts.nth(0).inner_text()
    assert "MIT" in charts.nth(1).inner_text() and "BSD-3-Clause" in charts.nth(1).inner_text()
    assert "not_code" in charts.nth(2).inner_text()
    page.get_by_role("tab", name="Path").click()
    page.get_by_role("searchbox").fill("widgets/*.py")
    page.get_by_role("button", name="Search").click()
    link = page.locator("td.path a", has_text="widgets/render.py")
    link.wait_for(timeout=WAIT_MS)
    ui.shot("dataset")
    link.click()
    page.locator(".file-title").wait_for(timeout=WAIT_MS)
    facts = page.locator("dl.facts").inner_text()
    assert "MIT" in facts and "acme-widgets" in facts and "Redactions" in facts
    page.locator(".cm-content").wait_for()
    assert "window.__pwned" in doc(page) and "<script>" in doc(page)  # shown, not run
    assert AUTHOR in doc(page)
    ui.shot("dataset-file")


def test_repository_search_and_a_file_with_html_in_its_path(ui):
    page = ui.open("dataset")
    page.get_by_role("searchbox").fill("H11")
    page.get_by_role("button", name="Search").click()
    page.locator(".results table.grid", has_text="pypi/h11").first.wait_for(timeout=WAIT_MS)
    assert page.locator(".results h3", has_text="Files of pypi/h11").count() == 1
    assert page.locator("td.path a", has_text="h11/_readers.py").count() == 1


def test_snippet_search_finds_the_copied_file(ui, site):
    _, planted = site
    page = ui.open("dataset")
    page.get_by_role("tab", name="Code snippet").click()
    renamed = planted["h11"].replace("_obsolete_line_fold", "unfold").replace("lines", "rows")
    page.get_by_label("code snippet").fill(renamed)
    page.get_by_role("button", name="Find copies").click()
    match = page.locator(".results .match").first
    match.wait_for(timeout=WAIT_MS)
    assert "pypi/h11 · h11/_readers.py" in match.inner_text()
    match.locator("a").click()
    page.locator(".cm-hl").first.wait_for(timeout=WAIT_MS)  # the matched span, highlighted


# -- is my code in it? ---------------------------------------------------------------

def test_is_my_code_in_it_and_an_opt_out_request(ui, queue):
    page = ui.open("optout")
    page.get_by_role("searchbox").fill("https://pypi.org/project/H11/")  # as python-env names it: pypi/h11
    page.get_by_role("button", name="Check").first.click()
    page.locator(".results .notice", has_text="Yes.").wait_for(timeout=WAIT_MS)
    assert "Read but excluded" in page.locator(".results").inner_text()  # METADATA and friends
    page.get_by_role("tab", name="Author").click()
    page.get_by_role("searchbox").fill(AUTHOR)
    page.get_by_role("button", name="Check").first.click()
    page.locator(".results td.path", has_text="widgets/render.py").wait_for(timeout=WAIT_MS)
    page.get_by_role("tab", name="Repository").click()
    page.get_by_role("searchbox").fill("acme-widgets")
    page.get_by_role("button", name="Check").first.click()
    page.get_by_role("button", name="Ask to opt these repositories out").click()
    assert page.get_by_label("Repositories").input_value() == "acme-widgets"
    page.get_by_label("Your name").fill(AUTHOR)
    page.get_by_label("Contact email").fill("not an email")
    page.get_by_role("button", name="Send request").click()  # the browser's own check stops it
    assert not page.get_by_label("Contact email").evaluate("el => el.validity.valid")
    assert queue.pending() == []
    page.get_by_label("Contact email").fill("jane@example.org")
    page.get_by_label("Author emails").fill("jane.doe@example.org")
    page.get_by_role("button", name="Send request").click()
    done = page.locator(".optout-form .notice-ok")
    done.wait_for(timeout=WAIT_MS)
    request_id = done.locator("code").first.inner_text()
    ui.shot("optout", full_page=True)
    pending = {r.id: r for r in queue.pending()}
    assert pending[request_id].repos == ["acme-widgets"] and pending[request_id].status == "pending"
    out = subprocess.run([sys.executable, "-m", "codecommons", "optout", "pending"], capture_output=True,
                         text=True, env={**os.environ}, timeout=120)
    assert out.returncode == 0 and request_id in out.stdout


# -- reports and status --------------------------------------------------------------

def test_reports_leaderboard_and_a_report(ui):
    page = ui.open("reports")
    rows = page.locator("table.leaderboard tbody tr")
    rows.first.wait_for(timeout=WAIT_MS)
    assert rows.count() == 2
    text = page.locator("table.leaderboard").inner_text()
    assert "planted-samples" in text and "66.7%" in text and "tiny-qwen2.5-coder-test" in text
    ui.shot("reports")
    page.locator("table.leaderboard a", has_text="humaneval").first.click()
    img = page.locator(".report-chart img")
    img.wait_for(timeout=WAIT_MS)
    page.wait_for_function("() => document.querySelector('.report-chart img').naturalWidth > 0")
    page.get_by_role("link", name="failed").click()
    problem = page.locator("details.problem").first
    problem.wait_for(timeout=WAIT_MS)
    problem.locator("summary").click()
    body = problem.inner_text()
    assert "HumanEval/1" in body and "AssertionError" in body and "separate_paren_groups" in body
    ui.shot("report", full_page=True)
    page.get_by_role("link", name="passed").click()
    page.locator("details.problem", has_text="HumanEval/2").locator("summary").click()
    assert XSS in page.locator("details.problem", has_text="HumanEval/2").locator("pre.completion").inner_text()
    # a report `commons eval run` made with the tiny model: its samples carry their prompts
    page.goto(f"{ui.base}/ui/#/reports")
    page.locator("table.leaderboard tr", has_text="tiny-qwen").locator("a").click()
    page.locator("details.problem").first.locator("summary").click()
    assert "def has_close_elements" in page.locator("details.problem").first.locator("pre.code").first.inner_text()


def test_status_shows_the_servers_own_metrics(ui, url, gguf_spec):
    httpx.post(url + "/v1/completions", json={"prompt": "x = ", "max_tokens": 4, "ignore_eos": True})
    page = ui.open("status")
    cards = page.locator(".cards")
    cards.wait_for(timeout=WAIT_MS)
    text = cards.inner_text()
    assert gguf_spec.id in text and "llama.cpp" in text and "512 tokens" in text and "0 / 16" in text
    ttft = page.locator(".stat", has_text="Time to first token").inner_text()
    assert "p50" in ttft and "no generation yet" not in ttft
    assert "block" in page.locator(".panel", has_text="What this server checks").inner_text()
    ui.shot("status")


# -- API key -------------------------------------------------------------------------

def test_the_page_asks_for_the_api_key(browser, gguf_engine, queue):
    with running_server(gguf_engine, ServeOptions(api_key="sesame")) as base:
        ui = Page(browser, base)
        page = ui.open()
        dialog = page.locator("#key-dialog")
        dialog.wait_for(state="visible", timeout=WAIT_MS)
        page.locator("#key-input").fill("wrong")
        page.get_by_role("button", name="Use this key").click()
        page.locator("#key-dialog").wait_for(state="visible", timeout=WAIT_MS)
        page.locator("#key-input").fill("sesame")
        page.get_by_role("button", name="Use this key").click()
        page.locator(".cm-content").wait_for(timeout=WAIT_MS)
        assert page.evaluate("sessionStorage.getItem('commons.apiKey')") == "sesame"
        assert page.evaluate("localStorage.getItem('commons.apiKey')") is None
        page.reload()
        page.locator(".cm-content").wait_for(timeout=WAIT_MS)
        assert not dialog.is_visible()
        # with a key, administrators see the pending opt-out requests and can decide them
        queue.submit("Jo", "jo@example.org", ["github.com/jo/x"], [])
        page.get_by_role("link", name="Is my code in it?").click()
        row = page.locator(".panel", has_text="Pending requests").locator("tr", has_text="github.com/jo/x")
        row.get_by_role("button", name="Reject").click()
        page.locator(".notice-ok", has_text="rejected").wait_for(timeout=WAIT_MS)
        assert "github.com/jo/x" not in {r for q in queue.pending() for r in q.repos}
        ui.check_clean()
        ui.context.close()
