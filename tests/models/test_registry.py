"""Resolving model names: registry names, .gguf files, model folders, hub ids.

    python -m pytest tests/models/test_registry.py -q
"""

from __future__ import annotations

import pytest

from codecommons.models.registry import KNOWN, ModelNotFound, guess_family, resolve


def test_gguf_file_reads_metadata(tiny_gguf):
    spec = resolve(str(tiny_gguf))
    assert (spec.format, spec.family, spec.context_length, spec.license) == (
        "gguf", "qwen2.5-coder", 512, "apache-2.0")


def test_model_folder(tiny_hf_model):
    spec = resolve(str(tiny_hf_model))
    assert (spec.format, spec.family, spec.context_length, spec.license) == (
        "transformers", "qwen2.5-coder", 512, "apache-2.0")


def test_registry_name_without_assembly():
    spec = resolve("qwen2.5-coder-0.5b", assemble_embedded=False)
    assert spec.license == "Apache-2.0" and spec.family == "qwen2.5-coder"


def test_unknown_name_lists_valid_ones():
    with pytest.raises(ModelNotFound) as e:
        resolve("no-such-model")
    for name in KNOWN:
        assert name in str(e.value)


def test_folder_without_weights_is_explained(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelNotFound, match="safetensors"):
        resolve(str(tmp_path))


def test_hub_id_offline_says_how_to_use_a_local_copy(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFound, match="pass its path"):
        resolve("bigcode/starcoder2-3b")


@pytest.mark.parametrize("names, family", [
    (("bigcode/starcoder2-3b",), "starcoder2"), (("gpt_bigcode",), "starcoder"),
    (("bigcode/santacoder",), "santacoder"), (("codellama/CodeLlama-7b-hf",), "codellama"),
    (("deepseek-ai/deepseek-coder-1.3b-base",), "deepseek-coder"),
    (("google/codegemma-2b",), "codegemma"), (("Qwen2.5-Coder-1.5B-Instruct",), "qwen2.5-coder"),
])
def test_family_guess(names, family):
    assert guess_family(*names) == family
