"""llm-ls request fields read the way llm-ls means them.

    python -m pytest tests/lsp/test_llmls.py -q
"""

from __future__ import annotations

import pytest

from codecommons.lsp.llmls import parse_get_completions, sampling, server_url


@pytest.mark.parametrize("backend,url,expected", [
    ("openai", "http://h:8000/v1/completions", "http://h:8000"),
    ("openai", "http://h:8000/v1/", "http://h:8000"),
    ("tgi", "http://h:8000/generate", "http://h:8000"),
    ("ollama", "http://h:8000/api/generate", "http://h:8000"),
    ("llamacpp", "http://h:8000", "http://h:8000"),
    ("huggingface", None, None),  # llm-vscode's default: the hosted API is never used
    ("huggingface", "https://api-inference.huggingface.co", None),
    ("huggingface", "http://h:8000", "http://h:8000"),
])
def test_server_url(backend, url, expected):
    assert server_url(backend, url) == expected


def test_sampling_in_each_backends_spelling():
    assert sampling({"parameters": {"max_new_tokens": 60, "temperature": 0.2, "top_p": 0.95}}) == \
        {"max_tokens": 60, "temperature": 0.2, "top_p": 0.95}
    assert sampling({"options": {"num_predict": 32, "temperature": 0, "stop": "\n\n"}}) == \
        {"max_tokens": 32, "temperature": 0, "stop": ["\n\n"]}
    assert sampling({"n_predict": -1, "max_tokens": None, "temperature": 0.1}) == {"temperature": 0.1}
    assert sampling({"parameters": {"do_sample": False, "temperature": 0.7}}) == {"temperature": 0.0}


def test_parse_requires_document_and_position():
    with pytest.raises(ValueError, match="textDocument.uri and position"):
        parse_get_completions({"textDocument": {"uri": "file:///a"}})
    req = parse_get_completions({"textDocument": {"uri": "file:///a"},
                                 "position": {"line": 1, "character": 2},
                                 "fim": {"enabled": False}, "backend": "openai",
                                 "url": "http://h:1", "apiToken": "k"})
    assert (req.fim, req.url, req.api_key) == (False, "http://h:1", "k")
