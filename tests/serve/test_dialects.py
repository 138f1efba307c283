"""The HTTP dialects editor plugins speak, each driven with the request bodies the real
plugin sends (tests/serve/plugin_bodies/, recorded from their source) or the real client
package: llama.cpp's /infill, /completion, /props; Ollama's /api/*; and the
`extra_context` repository context on every completion route.

    python -m pytest tests/serve/test_dialects.py -q
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from codecommons.serve.app import ServeOptions
from tests.serve.live import running_server

BODIES = Path(__file__).parent / "plugin_bodies"


def recorded() -> list[tuple[str, dict]]:
    out = []
    for f in sorted(BODIES.glob("*.json")):
        for i, e in enumerate(json.loads(f.read_text())):
            out.append((f"{f.stem}-{i}-{e['route']}", e))
    return out


def _send(url: str, e: dict, model: str) -> httpx.Response:
    body = e["body"]
    if isinstance(body, dict):
        body = dict(body)
        if "model" in body and e["route"].startswith("/v1/"):
            body["model"] = model  # the user names the served model in the plugin's settings
        for key in ("n_predict", "max_tokens", "max_new_tokens"):
            if isinstance(body.get(key), int) and body[key] > 16:
                body[key] = 16  # a short answer is enough here
        if isinstance(body.get("options"), dict) and (body["options"].get("num_predict") or 0) > 16:
            body["options"] = {**body["options"], "num_predict": 16}
        if isinstance(body.get("parameters"), dict):
            body["parameters"] = {**body["parameters"], "max_new_tokens": 16}
    if e["method"] == "GET":
        return httpx.get(url + e["route"], timeout=120)
    return httpx.post(url + e["route"], json=body, timeout=120)


@pytest.mark.parametrize("name, entry", recorded(), ids=[n for n, _ in recorded()])
def test_recorded_plugin_bodies_get_answers_in_the_plugins_shape(server, name, entry):
    model = httpx.get(server + "/v1/models").json()["data"][0]["id"]
    r = _send(server, entry, model)
    assert r.status_code == 200, (name, r.text[:500])
    route, body = entry["route"], entry["body"] or {}
    if route == "/infill":
        data = r.json()
        if body.get("response_fields") == [""]:
            assert data == {}
        elif body.get("response_fields"):
            assert set(data) <= set(body["response_fields"]) and "content" in data
        else:
            results = data if isinstance(data, list) else [data]
            assert len(results) == body.get("n_cmpl", 1)
            assert all(isinstance(x["content"], str) and "timings" in x for x in results)
    elif route in ("/api/generate", "/api/chat"):
        if body.get("stream", True):  # Ollama streams unless told not to
            lines = [json.loads(line) for line in r.text.splitlines() if line]
            assert lines[-1]["done"] is True and all("done" in x for x in lines)
            key = "response" if route == "/api/generate" else "message"
            assert all(key in x for x in lines)
        else:
            assert r.json()["done"] is True
    elif route == "/api/tags":
        m = r.json()["models"][0]
        assert m["name"] and set(m["details"]) >= {"format", "family", "parameter_size",
                                                   "quantization_level"}
    elif route == "/api/show":
        assert ".Suffix" in r.json()["template"] and "insert" in r.json()["capabilities"]
    elif route == "/props":
        assert r.json()["default_generation_settings"]["n_ctx"] > 0
    elif route == "/v1/completions":
        assert isinstance(r.json()["choices"][0]["text"], str)
    elif route == "/generate":
        assert isinstance(r.json()["generated_text"], str)


def test_infill_matches_the_openai_fim_route(server):
    prefix, suffix = "def add(a, b):\n", "\n\nprint(add(1, 2))\n"
    infill = httpx.post(server + "/infill", json={"input_prefix": prefix, "input_suffix": suffix,
                                                  "prompt": "    ", "n_predict": 12,
                                                  "temperature": 0, "samplers": ["temperature"]}).json()
    oa = httpx.post(server + "/v1/completions", json={"prompt": prefix + "    ", "suffix": suffix,
                                                      "max_tokens": 12, "temperature": 0}).json()
    assert infill["content"] == oa["choices"][0]["text"]
    assert infill["tokens_predicted"] >= 1 and infill["stop_type"] in ("eos", "word", "limit")


def test_infill_warm_up_fills_the_cache_for_the_next_request(gguf_engine):
    extra = [{"filename": "app/util.py", "text": "def helper(x):\n    return x * 2\n" * 8}]
    with running_server(gguf_engine) as url:
        warm = httpx.post(url + "/infill", json={"input_prefix": "", "input_suffix": "", "prompt": "",
                                                 "n_predict": 0, "input_extra": extra}).json()
        assert warm["content"] == "" and warm["tokens_predicted"] == 0
        r = httpx.post(url + "/infill", json={"input_prefix": "import util\n", "input_suffix": "\n",
                                              "prompt": "y = ", "n_predict": 4, "temperature": 0,
                                              "input_extra": extra}).json()
        # the context (and the repository header) came from the cache
        assert r["tokens_cached"] > 60
        assert r["context"] == [{"path": "app/util.py", "kind": "client"}]


def test_extra_context_in_the_models_repository_format(gguf_engine, server):
    from codecommons.serve.generation import Generation
    from codecommons.tokenizer.fim import ContextFile

    gen = Generation(gguf_engine)
    prep = gen.prepare_completion("x = helper(", ")\n", 4, [], [ContextFile("util.py", "def helper(): pass\n")],
                                  document="main.py")
    text = "".join(s.text for s in prep.prompt)
    assert text.startswith("<|repo_name|>") and text.index("<|file_sep|>util.py\n") < \
        text.index("<|file_sep|>main.py\n") < text.index("<|fim_prefix|>")
    r = httpx.post(server + "/v1/completions", json={
        "prompt": "x = helper(", "suffix": ")\n", "max_tokens": 4, "path": "main.py",
        "extra_context": [{"filename": "util.py", "text": "def helper(): pass\n"}]}).json()
    assert r["choices"][0]["context"] == [{"path": "util.py", "kind": "client"}]
    tgi = httpx.post(server + "/generate", json={
        "inputs": "<|fim_prefix|>x = helper(<|fim_suffix|>)\n<|fim_middle|>",
        "extra_context": [{"filename": "util.py", "text": "def helper(): pass\n"}],
        "parameters": {"max_new_tokens": 4}})
    assert tgi.status_code == 200


def test_ollama_python_client(server):
    ollama = pytest.importorskip("ollama")
    client = ollama.Client(host=server)
    model = client.list().models[0].model
    r = client.generate(model=model, prompt="def add(a, b):\n    ", suffix="\n\nprint(add(1, 2))\n",
                        options={"temperature": 0, "num_predict": 8})
    assert r.done and isinstance(r.response, str)
    parts = list(client.generate(model=model, prompt="import os\n", raw=True, stream=True,
                                 options={"num_predict": 5}))
    assert parts[-1].done and parts[-1].eval_count >= 1
    chat = client.chat(model=model, messages=[{"role": "user", "content": "hi"}],
                       options={"num_predict": 4})
    assert chat.message.role == "assistant"
    shown = client.show(model)
    assert "insert" in shown.capabilities
    assert client.ps is not None  # the client works end to end; /api/ps is not served


def test_dialect_errors_in_their_own_shape(server):
    r = httpx.post(server + "/infill", json={"input_prefix": "x"})  # input_suffix missing
    assert r.status_code == 400 and r.json()["error"]["code"] == 400
    r = httpx.post(server + "/infill", json={"input_prefix": "", "input_suffix": "",
                                             "grammar": "root ::= \"x\""})
    assert r.status_code == 400 and "grammar" in r.json()["error"]["message"]
    r = httpx.post(server + "/api/generate", json={"prompt": "x", "options": {"mirostat": 2}})
    assert r.status_code == 400 and "mirostat" in r.json()["error"]
    r = httpx.post(server + "/api/chat", json={"messages": []})
    assert r.status_code == 400 and isinstance(r.json()["error"], str)


def test_dialects_keep_the_api_key(gguf_engine):
    with running_server(gguf_engine, ServeOptions(api_key="k")) as url:
        for path, body in (("/infill", {"input_prefix": "", "input_suffix": ""}),
                           ("/api/generate", {"prompt": "x", "stream": False})):
            assert httpx.post(url + path, json=body).status_code == 401
        ok = httpx.post(url + "/api/generate", json={"prompt": "x", "stream": False,
                                                     "options": {"num_predict": 2}},
                        headers={"Authorization": "Bearer k"})
        assert ok.status_code == 200
