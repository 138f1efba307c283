"""The remote engine: a second Code Commons server forwards to the first one over
its OpenAI API, as it would to vLLM, TGI, llama.cpp's server or Ollama.

    python -m pytest tests/serve/test_remote_engine.py -q
"""

from __future__ import annotations

import httpx
import openai
import pytest

from codecommons.models.registry import ModelSpec
from codecommons.engines.base import load_engine
from tests.serve.live import running_server

MODEL = "tiny-qwen2.5-coder-test-f32.gguf"


@pytest.fixture(scope="module")
def front(server):
    spec = ModelSpec(id=MODEL, family="qwen2.5-coder", context_length=512, license="apache-2.0",
                     format="remote", path=server + "/v1")
    engine = load_engine(spec, base_url=server + "/v1")
    with running_server(engine) as url:
        yield url, server
    engine.close()


def test_completion_is_forwarded_unchanged(front):
    front_url, back_url = front
    body = {"model": MODEL, "prompt": "def f(x):\n", "max_tokens": 6, "temperature": 0}
    direct = httpx.post(back_url + "/v1/completions", json=body).json()["choices"][0]["text"]
    via = httpx.post(front_url + "/v1/completions", json=body).json()["choices"][0]["text"]
    assert via == direct


def test_fim_is_formatted_here_and_chat_forwarded(front):
    front_url, _ = front
    client = openai.OpenAI(base_url=front_url + "/v1", api_key="x", max_retries=0)
    r = client.completions.create(model=MODEL, prompt="x = compute(", suffix=")\n", max_tokens=6,
                                  temperature=0)
    assert "\n" not in r.choices[0].text  # infill rules applied on this side: single line
    chat = client.chat.completions.create(model=MODEL, max_tokens=4, temperature=0,
                                          messages=[{"role": "user", "content": "hi"}])
    assert chat.choices[0].message.role == "assistant"
    streamed = list(client.completions.create(model=MODEL, prompt="import os\n", max_tokens=5,
                                              temperature=0, stream=True))
    assert streamed[-1].choices[0].finish_reason in ("stop", "length")


def test_remote_errors_pass_through_as_4xx(front):
    front_url, _ = front
    r = httpx.post(front_url + "/v1/completions",
                   json={"model": MODEL, "prompt": "x", "max_tokens": 4, "top_k": -1})
    assert r.status_code == 400  # validated at the front door
    r = httpx.post(front_url + "/v1/completions", json={"model": MODEL, "prompt": "x" * 3000,
                                                        "max_tokens": 400})
    assert r.status_code == 400  # estimated context overflow, refused before forwarding
