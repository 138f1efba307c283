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


# -- the engine contract against an upstream that records and fails -----------

from codecommons.engines.base import SamplingParams  # noqa: E402
from codecommons.engines.infill import PromptError  # noqa: E402
from codecommons.engines.remote import RemoteError  # noqa: E402
from tests.serve.upstream import Upstream  # noqa: E402


@pytest.fixture()
def upstream():
    with Upstream().running() as up:
        yield up


def remote(url: str, timeout: float = 600.0):
    spec = ModelSpec(id="m", family="qwen2.5-coder", context_length=512, license="x",
                     format="remote", path=url)
    return load_engine(spec, base_url=url + "/v1", timeout=timeout)


def run_engine(engine, params):
    import threading
    from codecommons.tokenizer.fim import Segment

    return "".join(t.text for t in engine.generate([Segment("x")], params, threading.Event()))


def test_every_sampling_field_is_forwarded(upstream):
    engine = remote(upstream.url)
    params = SamplingParams(max_tokens=7, temperature=0.3, top_p=0.9, top_k=5, seed=11,
                            repetition_penalty=1.2, ignore_eos=True)
    assert run_engine(engine, params) == "abc"
    route, body = upstream.bodies[-1]
    assert route == "/v1/completions"
    assert body["max_tokens"] == 7 and body["temperature"] == 0.3 and body["top_p"] == 0.9
    assert body["top_k"] == 5 and body["seed"] == 11 and body["ignore_eos"] is True
    assert body["repetition_penalty"] == 1.2 and body["repeat_penalty"] == 1.2  # vLLM, llama.cpp


def test_a_field_that_cannot_be_forwarded_is_refused(upstream):
    engine = remote(upstream.url)
    with pytest.raises(PromptError) as e:
        run_engine(engine, SamplingParams(stop_token_ids=frozenset({3})))
    assert e.value.status == 400 and e.value.param == "stop_token_ids"
    assert not upstream.bodies  # nothing was sent


@pytest.mark.parametrize("mode,status", [("status:500", 502), ("status:503", 503),
                                         ("status:429", 429), ("status:400", 400),
                                         ("error_event", 502)])
def test_upstream_failures_map_to_statuses(upstream, mode, status):
    upstream.mode = mode
    with pytest.raises(RemoteError) as e:
        run_engine(remote(upstream.url), SamplingParams())
    assert e.value.status == status and upstream.url in str(e.value)


def test_unreachable_and_slow_upstreams(upstream):
    from tests.serve.live import free_port

    with pytest.raises(RemoteError) as e:
        run_engine(remote(f"http://127.0.0.1:{free_port()}"), SamplingParams())
    assert e.value.status == 502 and "unreachable" in str(e.value)
    upstream.mode = "hang"
    with pytest.raises(RemoteError) as e:
        run_engine(remote(upstream.url, timeout=0.5), SamplingParams())
    assert e.value.status == 504


def test_counts_tokens_through_the_upstream_tokenizer(upstream):
    engine = remote(upstream.url)
    assert engine.count_tokens("hello world") == 11  # the fake upstream: one token a char
    assert upstream.bodies[-1] == ("/tokenize", {**upstream.bodies[-1][1], "content": "hello world"})


def test_front_server_answers_upstream_failures_in_openai_shape(upstream):
    upstream.mode = "status:500"
    with running_server(remote(upstream.url)) as url:
        r = httpx.post(url + "/v1/completions", json={"model": "m", "prompt": "x", "max_tokens": 3})
        assert r.status_code == 502 and r.json()["error"]["message"].startswith("remote server")
        r = httpx.post(url + "/generate", json={"inputs": "x"})
        assert r.status_code == 502 and "error" in r.json()


def test_tokenize_routes(server):
    r = httpx.post(server + "/tokenize", json={"content": "def f():"})
    ids = r.json()["tokens"]
    assert ids and r.json()["count"] == len(ids)
    assert httpx.post(server + "/detokenize", json={"tokens": ids}).json()["content"] == "def f():"
    vllm = httpx.post(server + "/tokenize", json={"prompt": "def f():", "model": "x"}).json()
    assert vllm["tokens"][-len(ids):] == ids and vllm["max_model_len"] > 0
    assert httpx.post(server + "/detokenize", json={"tokens": [10**9]}).status_code == 400
