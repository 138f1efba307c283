"""`commons lsp` options: flags, COMMONS_LSP_* variables, early errors.

    python -m pytest tests/lsp/test_cli.py -q
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from codecommons.lsp.cli import LspConfig, env_defaults

SRC = str(Path(__file__).resolve().parents[2] / "src")


def test_environment_sets_defaults():
    env = {"COMMONS_LSP_URL": "http://gpu:8000", "COMMONS_LSP_DEBOUNCE_MS": "5",
           "COMMONS_LSP_TCP": "true"}
    assert env_defaults(LspConfig, env) == {"url": "http://gpu:8000", "debounce_ms": 5, "tcp": True}


@pytest.mark.parametrize("kw,message", [
    ({"backend": "engine"}, "--backend engine needs --model"),
    ({"url": "localhost:8000"}, "--url must be an http(s) URL"),
    ({"backend": "grpc"}, "--backend must be one of http, engine"),
    ({"context_tokens": 0}, "--context-tokens must be >= 1"),
])
def test_bad_options_are_refused_with_what_to_do(kw, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        LspConfig(**kw)


def test_cli_reports_bad_flags():
    r = subprocess.run([sys.executable, "-m", "codecommons", "lsp", "--backend", "engine"],
                       capture_output=True, text=True, env={"PYTHONPATH": SRC}, timeout=60)
    assert r.returncode == 2 and "--backend engine needs --model" in r.stderr
    r = subprocess.run([sys.executable, "-m", "codecommons", "lsp", "--model", "no-such-model"],
                       capture_output=True, text=True, env={"PYTHONPATH": SRC}, timeout=60)
    assert r.returncode == 1 and "no-such-model" in r.stderr
