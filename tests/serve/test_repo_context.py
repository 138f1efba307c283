"""`commons serve --repo DIR`: FIM prompts carry the repository's definitions and similar
chunks, the response's `context` says which (path and line range), the document's own
indexed copy is withheld, and typing keeps the context (and so the KV cache) stable.

    python -m pytest tests/serve/test_repo_context.py -q
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from codecommons.serve.app import ServeOptions
from tests.serve.live import free_port, running_server

pytest.importorskip("bm25s")

UTIL = '''"""Widgets and their serial numbers."""


def lookup_widget_by_serial(serial: str, registry: dict) -> dict:
    """The widget registered under `serial`, or KeyError."""
    return registry[serial]
'''
MAIN = "from shop.util import lookup_widget_by_serial\n\n\ndef handle(req, registry):\n    w = "


@pytest.fixture()
def project(tmp_path):
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "__init__.py").write_text("")
    (tmp_path / "shop" / "util.py").write_text(UTIL)
    (tmp_path / "shop" / "main.py").write_text(MAIN + "None\n")
    return tmp_path


def test_completion_context_names_the_definition_used(gguf_engine, project):
    from codecommons.repocontext.index import RepoIndex

    opts = ServeOptions(repos=(RepoIndex(project),))
    with running_server(gguf_engine, opts) as url:
        body = {"prompt": MAIN, "suffix": "\n    return w\n", "max_tokens": 4, "temperature": 0,
                "path": "shop/main.py"}
        r = httpx.post(url + "/v1/completions", json=body).json()
        ctx = r["choices"][0]["context"]
        assert ctx[0]["path"] == "shop/util.py", ctx
        assert ctx[0]["kind"] in ("definition", "retrieved")
        assert ctx[0]["start_line"] >= 1 and ctx[0]["end_line"] >= ctx[0]["start_line"]
        assert all(c["path"] != "shop/main.py" for c in ctx)  # the document itself is withheld
        # typing on the line keeps the same context, so the cached prompt prefix holds
        again = httpx.post(url + "/v1/completions", json={**body, "prompt": MAIN + "lookup"}).json()
        assert again["choices"][0]["context"] == ctx
        assert again["usage"]["prompt_tokens_details"]["cached_tokens"] > 0.8 * again["usage"]["prompt_tokens"]
        status = httpx.get(url + "/v1/status").json()["repo_context"]
        assert status == {"mode": "both", "tokens": 1024, "repos": [str(project)]}
    with running_server(gguf_engine, ServeOptions(repos=(RepoIndex(project),), repo_context="off")) as url:
        r = httpx.post(url + "/v1/completions", json=body).json()
        assert "context" not in r["choices"][0]


def test_prompt_holds_the_definition_in_the_models_format(gguf_engine, project):
    from codecommons.repocontext.index import RepoIndex
    from codecommons.serve.generation import Generation

    gen = Generation(gguf_engine, repos=(RepoIndex(project),))
    prep = gen.prepare_completion(MAIN, "\n", 4, [], document="shop/main.py")
    text = "".join(s.text for s in prep.prompt)
    assert text.startswith("<|repo_name|>" + project.name)
    assert "def lookup_widget_by_serial(serial: str, registry: dict) -> dict:" in text
    assert text.index("<|file_sep|>shop/util.py") < text.index("<|file_sep|>shop/main.py") < \
        text.index("<|fim_prefix|>")


def test_the_next_prompt_of_a_document_is_chosen_from_what_its_last_held(gguf_engine, project):
    from codecommons.repocontext.index import RepoIndex
    from codecommons.serve.generation import Generation

    gen = Generation(gguf_engine, repos=(RepoIndex(project),))
    first = gen.prepare_completion(MAIN, "\n", 4, [], document="shop/main.py")
    layout = gen.layouts.get("shop/main.py")
    assert [(c.path, c.start_line) for c in layout.context] == [(f.path, f.start_line) for f in first.files]
    # a new line: the held definition stays first (the cached prompt start stays valid)
    nxt = gen.prepare_completion(MAIN + "lookup_widget_by_serial(req.serial, registry)\n    x = ", "\n", 4, [],
                                 document="shop/main.py")
    assert nxt.files[0] == first.files[0]
    assert gen.layouts.get("other.py").context == []  # per document


def test_commons_serve_repo_flag(tiny_gguf, project):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "codecommons", "serve", "--model", str(tiny_gguf),
                             "--port", str(port), "--repo", str(project), "--slots", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        r = httpx.post(url + "/v1/completions", json={"prompt": MAIN, "suffix": "\n", "max_tokens": 2,
                                                      "path": str(project / "shop" / "main.py")})
        assert any(c["path"] == "shop/util.py" for c in r.json()["choices"][0]["context"])
    finally:
        proc.terminate()
        proc.wait(30)


def test_the_context_budget_follows_the_fim_window_unless_given():
    from codecommons.serve.cli import REPO_CONTEXT_MAX, ServeConfig, repo_context_budget

    assert repo_context_budget(0, 512) == 512  # a slow CPU: context as large as the file's window
    assert repo_context_budget(0, 8192) == REPO_CONTEXT_MAX
    assert repo_context_budget(0, 0) == REPO_CONTEXT_MAX  # an uncapped window
    assert repo_context_budget(300, 512) == 300  # as given
    with pytest.raises(ValueError, match="--repo-context-tokens must be >= 0"):
        ServeConfig(repo_context_tokens=-1)
