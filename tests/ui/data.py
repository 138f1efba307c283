"""What the web UI's tests serve: a curated dataset with planted files, an
evaluation report made by the real `commons eval execute` + `score`, and an
engine that answers planted prompts with planted code.

Planted HTML (`<script>` and `<img onerror>`) sits in a dataset file, its path, an
eval completion and a model's answer: the pages must show it as text. Each
planted script sets `window.__pwned`, which the browser tests check stays unset.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from codecommons.engines.base import Token

XSS = "<script>window.__pwned = 'x'</script><img src=x onerror=\"window.__pwned = 'img'\">"
AUTHOR = "Jane Doe"

WIDGETS_LICENSE = """MIT License

Copyright (c) 2024 Acme Widgets contributors

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""

RENDER_PY = f'''# Copyright 2024 {AUTHOR} and the Acme Widgets contributors
"""Render widgets as HTML fragments for the dashboard."""

from html import escape

BANNER = "{XSS.replace('"', "'")}"


def render(widget: dict) -> str:
    """The widget as an HTML fragment; its title is escaped, its body is trusted."""
    title = escape(widget.get("title", "untitled"))
    body = widget.get("body") or "<p>empty</p>"
    parts = [f"<section class='widget'><h2>{{title}}</h2>", body, "</section>"]
    if widget.get("banner"):
        parts.insert(0, BANNER)
    return "\\n".join(parts)


def render_all(widgets: list[dict]) -> str:
    return "\\n".join(render(w) for w in widgets)
'''


def widgets_repo(root: Path) -> Path:
    """A local repository (MIT) holding the planted file, as `commons curate` reads one."""
    repo = root / "acme-widgets"
    (repo / "widgets").mkdir(parents=True, exist_ok=True)
    (repo / "LICENSE").write_text(WIDGETS_LICENSE)
    (repo / "widgets" / "render.py").write_text(RENDER_PY)
    return repo


# -- a small dataset written directly (fast; for the route tests) -----------------

SCHEMA = pa.schema([("content", pa.string()), ("repo", pa.string()), ("path", pa.string()),
                    ("language", pa.string()), ("license", pa.string()), ("license_type", pa.string()),
                    ("size", pa.int64()), ("sha256", pa.string()),
                    ("redactions", pa.struct([("email", pa.int64()), ("key", pa.int64())]))])


def row(repo: str, path: str, content: str, license: str = "MIT", language: str = "Python",
        redactions: dict | None = None) -> dict:
    return {"content": content, "repo": repo, "path": path, "language": language, "license": license,
            "license_type": "permissive", "size": len(content.encode()),
            "sha256": hashlib.sha256(content.encode()).hexdigest(),
            "redactions": {"email": 0, "key": 0, **(redactions or {})}}


def small_dataset(root: Path) -> Path:
    """Two shards (the second with two row groups), exclusions, stats.json and a
    card: stdlib files of python/cpython-stdlib, the planted acme-widgets files."""
    from tests.attribution.planted import STDLIB, write_shard

    from codecommons.data.card import write_card

    ds = root / "ds"
    write_shard(ds / "data" / "00000.parquet", ["textwrap.py", "shlex.py", "json/decoder.py", "json/encoder.py"])
    rows = [row("acme-widgets", "widgets/render.py", RENDER_PY),
            row("acme-widgets", f"widgets/{XSS}.py", "print('a file with HTML in its name')\n"),
            row("acme-widgets", "widgets/secrets.py", "TOKEN = '<KEY>'\nADMIN = '<EMAIL>'\n",
                redactions={"email": 1, "key": 1}),
            row("github.com/acme/gadgets", "gadgets/colors.py", (STDLIB / "colorsys.py").read_text(),
                license="BSD-3-Clause")]
    pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), ds / "data" / "00001.parquet", row_group_size=2)
    (ds / "excluded").mkdir()
    (ds / "excluded" / "license_00000.jsonl").write_text(
        json.dumps({"repo": "acme-widgets", "path": "vendor/gpl_thing.py", "reason": "license:GPL-3.0-only"}) + "\n"
        + json.dumps({"repo": "github.com/acme/gadgets", "path": "gadgets/data.bin", "reason": "binary"}) + "\n")
    write_card(ds, {"sources": ["stdlib", "acme-widgets"], "git_commit": "test"})
    return ds


# -- an evaluation report, by the real execute and score stages ---------------------

def eval_report(root: Path, task: str = "humaneval", model: str = "planted-samples") -> Path:
    """DIR/<task>/{samples,results}.jsonl + report.*: three HumanEval problems, one
    solved, one failing with a traceback, one solved with planted HTML in a comment."""
    from codecommons.eval.cli import main as eval_main
    from codecommons.eval.tasks import get_task

    out = root / task
    out.mkdir(parents=True, exist_ok=True)
    problems = get_task(task).problems()[:3]
    completions = [problems[0].reference,
                   "    return None  # wrong on purpose\n",
                   f"    # {XSS}\n" + problems[2].reference]
    with open(out / "samples.jsonl", "w") as f:
        for p, c in zip(problems, completions):
            f.write(json.dumps({"task_id": p.task_id, "sample": 0, "mode": "base", "prompt": p.prompt,
                                "completion": c}) + "\n")
    (out / "generate.json").write_text(json.dumps({
        "mode": "base", "model": {"id": model, "family": "none", "format": "none", "sha256": None},
        "sampling": {"n_samples": 1, "temperature": 0.0}, "git_commit": "test"}))
    assert eval_main(["execute", str(out / "samples.jsonl"), "--task", task, "--allow-code-execution"]) == 0
    assert eval_main(["score", str(out / "results.jsonl"), "--task", task]) == 0
    return out


# -- an engine with planted answers ------------------------------------------------

class PlantedEngine:
    """The real engine, except that a prompt holding one of `answers`' markers gets
    that marker's text, token by token (a model reproducing code it was trained on)."""

    def __init__(self, engine, answers: dict[str, str], delay_s: float = 0.004):
        self._engine, self.answers, self.delay_s = engine, answers, delay_s

    def __getattr__(self, name):
        return getattr(self._engine, name)

    def planted(self, text: str) -> str | None:
        return next((answer for marker, answer in self.answers.items() if marker in text), None)

    def generate(self, prompt, params, cancel, key="", stats=None):
        answer = self.planted("".join(seg.text for seg in prompt))
        if answer is None:
            return self._engine.generate(prompt, params, cancel, key, stats)
        return self._tokens(answer, cancel)

    def chat(self, messages, params, cancel, key="", stats=None):
        answer = self.planted("\n".join(m["content"] for m in messages))
        if answer is None:
            return self._engine.chat(messages, params, cancel, key, stats)
        return self._tokens(answer, cancel)

    def _tokens(self, text, cancel):
        for i in range(0, len(text), 4):
            if cancel.is_set():
                return
            time.sleep(self.delay_s)  # a model's pace, not a memory copy's
            yield Token(-1, text[i:i + 4])
