"""Suggestions that copy indexed code: annotated with source and licence, or withheld.

A scripted engine "generates" real standard-library code (a model reproducing its
training data) through the real server; the index is built from a curated-style
shard of the standard library.

    python -m pytest tests/serve/test_public_code.py -q
"""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from codecommons.codeindex.search import CodeIndex
from codecommons.serve.app import ServeOptions
from codecommons.serve.cli import ServeConfig
from codecommons.serve.public_code import PublicCodeGate, PublicCodePolicy
from tests.attribution.planted import LICENSE, REPO, UNRELATED, function_source, stdlib_index
from tests.serve.live import ScriptedEngine, running_server

COPY = function_source("textwrap.py", "dedent") + "\n"


@pytest.fixture(scope="module")
def index_path(tmp_path_factory):
    return stdlib_index(tmp_path_factory.mktemp("public-code"))


def options(index_path, mode, block_licenses=()) -> ServeOptions:
    return ServeOptions(public_code=PublicCodePolicy.open(str(index_path), mode, block_licenses))


def check_attribution(matches: list[dict]) -> None:
    assert matches, "the copy was not attributed"
    top = matches[0]
    assert (top["repo"], top["path"], top["license"], top["license_type"]) == \
        (REPO, "textwrap.py", LICENSE, "permissive")
    assert top["length"] >= 150


# -- the gate, unit by unit ---------------------------------------------------------
def test_gate_blocks_at_the_line_that_completes_a_copy(index_path):
    policy = PublicCodePolicy.open(str(index_path), "block")
    gate = PublicCodeGate(policy)
    sent = "".join(gate.feed(COPY[i:i + 5]) for i in range(0, len(COPY), 5)) + gate.finish()
    assert gate.blocked and gate.matches
    assert sent and COPY.startswith(sent) and len(sent) < len(COPY)
    # what left before the block holds no match on its own
    assert CodeIndex(index_path).attribute(sent) == []


def test_gate_passes_unrelated_code_and_annotates(index_path):
    gate = PublicCodeGate(PublicCodePolicy.open(str(index_path), "block"))
    assert gate.feed(UNRELATED) + gate.finish() == UNRELATED
    assert not gate.blocked and gate.matches == []
    gate = PublicCodeGate(PublicCodePolicy.open(str(index_path), "annotate"))
    assert gate.feed(COPY) + gate.finish() == COPY  # annotate never holds text back
    check_attribution(gate.matches)


def test_block_licenses(index_path):
    policy = PublicCodePolicy.open(str(index_path), "block", ("non_permissive", "GPL-3.0-only"))
    gate = PublicCodeGate(policy)
    assert gate.feed(COPY) + gate.finish() == COPY and not gate.blocked
    check_attribution(gate.matches)  # a PSF-2.0 match is shown, not blocked
    assert PublicCodePolicy.open(str(index_path), "block", ("PSF-2.0",)).blocks(gate.matches[0])
    assert PublicCodePolicy.open(str(index_path), "block", ("permissive",)).blocks(gate.matches[0])


# -- through the server ---------------------------------------------------------------
def test_annotate_openai_and_tgi(gguf_engine, index_path):
    with running_server(ScriptedEngine(gguf_engine, COPY), options(index_path, "annotate")) as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key="x", max_retries=0)
        choice = client.completions.create(model="", prompt="import re\n", max_tokens=256).choices[0]
        assert choice.text == COPY and choice.finish_reason != "content_filter"
        check_attribution(choice.model_extra["attribution"])
        top = choice.model_extra["attribution"][0]
        assert "margin" in choice.text[top["query_start"]:top["query_end"]]
        echoed = client.completions.create(model="", prompt="import re\n", max_tokens=256, echo=True)
        top = echoed.choices[0].model_extra["attribution"][0]  # spans in the echoed text
        assert "margin" in echoed.choices[0].text[top["query_start"]:top["query_end"]]
        assert top["query_start"] >= len("import re\n")

        chat = client.chat.completions.create(model="", messages=[{"role": "user", "content": "dedent?"}])
        check_attribution(chat.choices[0].model_extra["attribution"])

        tgi = httpx.post(url + "/generate", json={"inputs": "import re\n",
                                                  "parameters": {"details": True}}).json()
        assert tgi["generated_text"] == COPY
        check_attribution(tgi["attribution"])

        chunks = list(client.completions.create(model="", prompt="x", max_tokens=256, stream=True))
        assert "".join(c.choices[0].text for c in chunks) == COPY
        check_attribution(chunks[-1].choices[0].model_extra["attribution"])


def test_unrelated_suggestion_has_empty_attribution(gguf_engine, index_path):
    with running_server(ScriptedEngine(gguf_engine, UNRELATED), options(index_path, "block")) as url:
        r = httpx.post(url + "/v1/completions", json={"prompt": "x", "max_tokens": 256}).json()
        assert r["choices"][0]["text"] == UNRELATED
        assert r["choices"][0]["attribution"] == []
        assert r["choices"][0]["finish_reason"] != "content_filter"


def test_block_withholds_the_copy(gguf_engine, index_path):
    with running_server(ScriptedEngine(gguf_engine, COPY), options(index_path, "block")) as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key="x", max_retries=0)
        choice = client.completions.create(model="", prompt="x", max_tokens=256).choices[0]
        assert choice.text == "" and choice.finish_reason == "content_filter"
        check_attribution(choice.model_extra["attribution"])

        chunks = list(client.completions.create(model="", prompt="x", max_tokens=256, stream=True))
        streamed = "".join(c.choices[0].text for c in chunks)
        assert chunks[-1].choices[0].finish_reason == "content_filter"
        assert len(streamed) < len(COPY) and CodeIndex(index_path).attribute(streamed) == []

        tgi = httpx.post(url + "/generate", json={"inputs": "x", "parameters": {"details": True}}).json()
        assert tgi["generated_text"] == "" and tgi["details"]["finish_reason"] == "content_filter"
        with httpx.stream("POST", url + "/generate_stream", json={"inputs": "x"}) as r:
            events = [json.loads(line[5:]) for line in r.iter_lines() if line.startswith("data:")]
        assert events[-1]["details"]["finish_reason"] == "content_filter"
        check_attribution(events[-1]["attribution"])
        metrics = httpx.get(url + "/metrics").text
        assert 'commons_public_code_suggestions_total{outcome="blocked"}' in metrics


def test_block_offers_the_next_best_sample(gguf_engine, index_path):
    engine = ScriptedEngine(gguf_engine, COPY, UNRELATED)  # first sample copies, later ones not
    with running_server(engine, options(index_path, "block")) as url:
        r = httpx.post(url + "/v1/completions", json={"prompt": "x", "max_tokens": 256, "n": 2,
                                                      "temperature": 0.8, "seed": 1}).json()
        texts = [c["text"] for c in r["choices"]]
        assert texts == [UNRELATED, UNRELATED]  # the blocked sample was replaced
        assert [c["index"] for c in r["choices"]] == [0, 1]
        assert engine.calls == 3


def test_greedy_blocked_sample_goes_last(gguf_engine, index_path):
    engine = ScriptedEngine(gguf_engine, COPY, UNRELATED)
    with running_server(engine, options(index_path, "block")) as url:
        r = httpx.post(url + "/v1/completions", json={"prompt": "x", "max_tokens": 256, "n": 2,
                                                      "temperature": 0}).json()
        assert r["choices"][1]["finish_reason"] == "content_filter"
        assert r["choices"][0]["finish_reason"] != "content_filter"
        assert r["choices"][0]["text"] == UNRELATED and engine.calls == 2


def test_attribution_endpoint(gguf_engine, index_path):
    with running_server(gguf_engine, options(index_path, "annotate")) as url:
        r = httpx.post(url + "/v1/attribution", json={"input": "x = 1\n" + COPY, "language": "python"})
        assert r.status_code == 200 and r.json()["matched"] is True
        check_attribution(r.json()["matches"])
        r = httpx.post(url + "/v1/attribution", json={"input": UNRELATED})
        assert r.json() == {"object": "attribution", "matched": False, "min_chars": 150, "matches": []}
        r = httpx.post(url + "/v1/attribution", json={"input": ""})
        assert r.status_code == 400 and r.json()["error"]["param"] == "input"
    with running_server(gguf_engine) as url:
        r = httpx.post(url + "/v1/attribution", json={"input": COPY})
        assert r.status_code == 404 and "--index" in r.json()["error"]["message"]


@pytest.mark.parametrize("args, message", [
    ({"public_code": "block"}, "needs --index"),
    ({"public_code": "maybe", "index": "x"}, "must be one of off, annotate, block"),
    ({"index": "/nonexistent/index.sqlite"}, "no such file"),
    ({"block_licenses": "non_permissive"}, "applies to --public-code block"),
])
def test_config_errors(args, message):
    with pytest.raises(ValueError, match=message):
        ServeConfig(**args)


def test_config_defaults_to_annotate_with_an_index(index_path):
    assert ServeConfig(index=str(index_path)).public_code_mode() == "annotate"
    assert ServeConfig().public_code_mode() == "off"
