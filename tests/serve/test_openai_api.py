"""The OpenAI-compatible API, driven by the official `openai` client over loopback.

    python -m pytest tests/serve/test_openai_api.py -q
"""

from __future__ import annotations

import json

import httpx
import openai
import pytest

MODEL = "tiny-qwen2.5-coder-test-f32.gguf"  # the id resolve() gives the tiny GGUF


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server + "/v1", api_key="unused", max_retries=0)


def test_models_lists_id_family_context_and_license(client):
    models = client.models.list().data
    assert [m.id for m in models] == [MODEL]
    extra = models[0].model_extra
    assert extra["family"] == "qwen2.5-coder"
    assert extra["context_length"] == 512
    assert extra["license"] == "apache-2.0"


def test_completion_with_suffix_is_fim(client, gguf_engine):
    r = client.completions.create(model=MODEL, prompt="def add(a, b):\n    return a",
                                  suffix="\n\nprint(add(1, 2))\n", max_tokens=8, temperature=0)
    choice = r.choices[0]
    assert r.object == "text_completion"
    assert choice.finish_reason in ("stop", "length")
    assert r.usage.completion_tokens >= 1
    assert r.usage.prompt_tokens > 10
    # Greedy decoding is deterministic: the same request gives the same text.
    again = client.completions.create(model=MODEL, prompt="def add(a, b):\n    return a",
                                      suffix="\n\nprint(add(1, 2))\n", max_tokens=8,
                                      temperature=0)
    assert again.choices[0].text == choice.text


def test_completion_n_and_seed(client):
    kw = dict(model=MODEL, prompt="import os\n", max_tokens=6, temperature=1.0, seed=7, n=2)
    a = client.completions.create(**kw)
    b = client.completions.create(**kw)
    assert [c.index for c in a.choices] == [0, 1]
    assert [c.text for c in a.choices] == [c.text for c in b.choices]  # seeded: reproducible


def test_completion_stream_matches_non_stream(client):
    kw = dict(model=MODEL, prompt="class Foo:\n", max_tokens=10, temperature=0)
    whole = client.completions.create(**kw).choices[0].text
    chunks = list(client.completions.create(stream=True, **kw))
    assert "".join(c.choices[0].text for c in chunks) == whole
    assert chunks[-1].choices[0].finish_reason in ("stop", "length")


def test_completion_stream_ends_with_done(server):
    body = {"model": MODEL, "prompt": "x = 1\n", "max_tokens": 4, "stream": True,
            "stream_options": {"include_usage": True}}
    with httpx.stream("POST", server + "/v1/completions", json=body, timeout=30) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        lines = [ln for ln in r.iter_lines() if ln]
    assert lines[-1] == "data: [DONE]"
    usage = json.loads(lines[-2][len("data: "):])["usage"]
    assert usage["completion_tokens"] >= 1


def test_chat_uses_template_and_streams(client):
    msgs = [{"role": "system", "content": "You write Python."},
            {"role": "user", "content": "Reverse a string s."}]
    r = client.chat.completions.create(model=MODEL, messages=msgs, max_tokens=8, temperature=0)
    assert r.choices[0].message.role == "assistant"
    # ChatML around two messages plus the assistant opener is > 10 tokens
    assert r.usage.prompt_tokens > 10
    stream = client.chat.completions.create(model=MODEL, messages=msgs, max_tokens=8,
                                            temperature=0, stream=True)
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == r.choices[0].message.content


def test_echo_logprobs_and_unsupported_options(client, server):
    r = client.completions.create(model=MODEL, prompt="x = 1", max_tokens=2, echo=True)
    assert r.choices[0].text.startswith("x = 1")
    r = client.completions.create(model=MODEL, prompt="x = 1", max_tokens=3, logprobs=2,
                                  temperature=0)
    lp = r.choices[0].logprobs
    assert "".join(lp.tokens) == r.choices[0].text and len(lp.token_logprobs) == len(lp.tokens)
    assert all(v <= 0 for v in lp.token_logprobs) and all(len(t) <= 2 for t in lp.top_logprobs)
    for extra, words in (({"best_of": 3}, "best_of must equal n"),
                         ({"logprobs": 2, "stream": True}, "logprobs with stream")):
        resp = httpx.post(server + "/v1/completions",
                          json={"model": MODEL, "prompt": "x", "max_tokens": 1, **extra})
        assert resp.status_code == 400
        assert words in resp.json()["error"]["message"]


def test_unknown_model_is_404(client):
    with pytest.raises(openai.NotFoundError) as e:
        client.completions.create(model="gpt-9", prompt="x", max_tokens=1)
    assert e.value.body["code"] == "model_not_found"


@pytest.mark.parametrize("kw, param", [
    ({"max_tokens": 0}, "max_tokens"),
    ({"max_tokens": 100000}, "max_tokens"),
    ({"temperature": -0.5}, "temperature"),
    ({"top_p": 0}, "top_p"),
    ({"n": 1000}, "n"),
    ({"prompt": "def f():\n    pass\n" * 400}, "prompt"),
])
def test_bad_parameters_are_400_in_openai_shape(client, kw, param):
    args = {"model": MODEL, "prompt": "x", "max_tokens": 4, **kw}
    with pytest.raises(openai.BadRequestError) as e:
        client.completions.create(**args)
    err = e.value.body
    assert err["type"] == "invalid_request_error"
    assert err["param"] == param
    assert client.completions.create(model=MODEL, prompt="x", max_tokens=1).choices  # still serving


@pytest.mark.parametrize("data, headers", [
    (b'{"prompt": "x", "max_tokens": ', {}),  # truncated JSON
    (b'{"prompt": 5, "max_tokens": "many"}', {}),  # wrong types
    (b'{"prompt": "\xff\xfe bad utf-8"}', {}),  # not UTF-8
    (b'[1, 2, 3]', {}),  # JSON, wrong shape
])
def test_malformed_bodies_are_400(server, data, headers):
    r = httpx.post(server + "/v1/completions", content=data,
                   headers={"content-type": "application/json", **headers}, timeout=10)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["type"] == "invalid_request_error"
    assert httpx.get(server + "/health").status_code == 200


def test_chat_with_empty_messages_is_400(server):
    r = httpx.post(server + "/v1/chat/completions", json={"model": MODEL, "messages": []})
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "messages"
