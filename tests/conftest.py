"""Shared pytest fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_models_dir(tmp_path_factory) -> Path:
    """A session-wide folder for the tiny test models."""
    return tmp_path_factory.mktemp("tiny-models")


@pytest.fixture(scope="session")
def tiny_hf_model(tiny_models_dir) -> Path:
    """Folder of a tiny random Qwen2ForCausalLM + Qwen2.5-Coder-style tokenizer
    (config.json, model.safetensors, tokenizer.json, tokenizer_config.json with a
    ChatML chat_template, README.md with `license: apache-2.0`). The folder is
    named `tiny-qwen2.5-coder`. Built once per session (~3 s)."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from tests.tiny_models import DEFAULT_HF_NAME, build_hf_model

    return build_hf_model(tiny_models_dir / DEFAULT_HF_NAME)


@pytest.fixture(scope="session")
def tiny_gguf(tiny_models_dir, tiny_hf_model) -> Path:
    """Path of a float32 qwen2 GGUF with the same weights and tokenizer as
    `tiny_hf_model` (general.name "tiny-qwen2.5-coder-test", license apache-2.0,
    context 512)."""
    pytest.importorskip("gguf")
    from tests.tiny_models import GGUF_NAME, build_gguf

    return build_gguf(tiny_models_dir / f"{GGUF_NAME}-f32.gguf", tiny_hf_model)


# -- serving ---------------------------------------------------------------


@pytest.fixture(scope="session")
def gguf_spec(tiny_gguf):
    from codecommons.models.registry import resolve

    return resolve(str(tiny_gguf))


@pytest.fixture(scope="session")
def gguf_engine(gguf_spec):
    """The llama.cpp engine on the tiny GGUF (context 512), shared by the session."""
    pytest.importorskip("llama_cpp")
    from codecommons.engines.base import load_engine

    engine = load_engine(gguf_spec, n_threads=1)
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def hf_engine(tiny_hf_model):
    from codecommons.models.registry import resolve
    from codecommons.engines.base import load_engine

    engine = load_engine(resolve(str(tiny_hf_model)), device="cpu")
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def server(gguf_engine):
    """A real uvicorn server on loopback over the tiny GGUF; yields its base URL."""
    from tests.serve.live import running_server

    with running_server(gguf_engine) as url:
        yield url
