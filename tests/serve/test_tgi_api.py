"""The TGI-compatible API, driven by huggingface_hub's InferenceClient and the
request bodies llm-ls sends (its `tgi` and `openai` backends, crates/llm-ls/src/backend.rs).

    python -m pytest tests/serve/test_tgi_api.py -q
"""

from __future__ import annotations

import httpx
import pytest
from huggingface_hub import InferenceClient

FIM = "<|fim_prefix|>def add(a, b):\n    return <|fim_suffix|>\n\nprint(add(1, 2))\n<|fim_middle|>"


@pytest.fixture(scope="module")
def hf_client(server):
    return InferenceClient(model=server)


def test_text_generation_plain_and_details(hf_client):
    out = hf_client.text_generation("def f(x):\n", max_new_tokens=6)
    assert isinstance(out, str)
    det = hf_client.text_generation("def f(x):\n", max_new_tokens=6, details=True)
    assert det.generated_text == out  # greedy by default, as TGI
    assert det.details.finish_reason in ("length", "eos_token", "stop_sequence")
    assert det.details.generated_tokens >= 1


def test_text_generation_stream_matches(hf_client):
    whole = hf_client.text_generation("import os\n", max_new_tokens=8)
    tokens = list(hf_client.text_generation("import os\n", max_new_tokens=8, stream=True))
    assert "".join(tokens) == whole
    final = list(hf_client.text_generation("import os\n", max_new_tokens=8, stream=True,
                                           details=True))[-1]
    assert final.generated_text == whole
    assert final.details.generated_tokens >= 1


def test_generate_and_generate_stream_routes(server):
    r = httpx.post(server + "/generate", json={"inputs": "x = ", "parameters": {"max_new_tokens": 4}})
    assert r.status_code == 200 and "generated_text" in r.json()
    with httpx.stream("POST", server + "/generate_stream",
                      json={"inputs": "x = ", "parameters": {"max_new_tokens": 4}}) as s:
        events = [ln for ln in s.iter_lines() if ln.startswith("data:")]
    assert events and '"generated_text": null' in events[0]
    assert '"details"' in events[-1] and "[DONE]" not in events[-1]


def test_llm_ls_tgi_backend_body(server):
    # llm-ls: the user's request_body plus "inputs" and parameters.return_full_text=false;
    # it parses {"generated_text"} or {"error"}.
    body = {"parameters": {"max_new_tokens": 12, "temperature": 0.2, "top_p": 0.95,
                           "return_full_text": False}, "inputs": FIM}
    for route in ("/generate", "/"):
        r = httpx.post(server + route, json=body,
                       headers={"Authorization": "Bearer hf_x", "User-Agent": "llm-ls/0.5.3"})
        assert r.status_code == 200
        assert isinstance(r.json()["generated_text"], str)


def test_llm_ls_openai_backend_body(server):
    body = {"max_tokens": 12, "temperature": 0.2, "top_p": 0.95, "prompt": FIM,
            "model": "tiny-qwen2.5-coder-test-f32.gguf", "stream": False}
    r = httpx.post(server + "/v1/completions", json=body)
    assert r.status_code == 200
    assert isinstance(r.json()["choices"][0]["text"], str)


def test_ready_made_fim_prompt_is_parsed_as_infill(server, gguf_engine):
    """A FIM prompt in `inputs` gets the same treatment as prompt+suffix: the same
    prompt tokens, so the same greedy completion."""
    a = httpx.post(server + "/generate", json={"inputs": FIM, "parameters": {"max_new_tokens": 8}})
    b = httpx.post(server + "/v1/completions", json={
        "prompt": "def add(a, b):\n    return ", "suffix": "\n\nprint(add(1, 2))\n",
        "max_tokens": 8, "temperature": 0})
    assert a.json()["generated_text"] == b.json()["choices"][0]["text"]


@pytest.mark.parametrize("params", [{"max_new_tokens": 0}, {"temperature": 0},
                                    {"top_p": 1.5}, {"stop": ["a", "b", "c", "d", "e"]}])
def test_bad_parameters_are_422_in_tgi_shape(server, params):
    r = httpx.post(server + "/generate", json={"inputs": "x", "parameters": params})
    assert r.status_code == 422
    assert r.json()["error_type"] == "validation" and r.json()["error"]


def test_info_and_health(server):
    info = httpx.get(server + "/info").json()
    assert info["max_total_tokens"] == 512 and info["license"] == "apache-2.0"
    assert httpx.get(server + "/health").status_code == 200


def test_openapi_lists_both_apis(server):
    paths = httpx.get(server + "/openapi.json").json()["paths"]
    for p in ("/v1/completions", "/v1/chat/completions", "/v1/models", "/generate",
              "/generate_stream", "/info", "/health"):
        assert p in paths


def test_metrics_exposes_prometheus_counters(server):
    httpx.post(server + "/generate", json={"inputs": "y = ", "parameters": {"max_new_tokens": 2}})
    text = httpx.get(server + "/metrics").text
    for name in ("commons_requests_total", "commons_queue_depth", "commons_prompt_tokens_total",
                 "commons_generated_tokens_total", "commons_time_to_first_token_seconds_bucket",
                 "commons_decode_tokens_per_second_bucket"):
        assert name in text
