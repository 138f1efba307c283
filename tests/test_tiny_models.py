"""The tiny test models: the HF folder and the GGUF agree with each other."""

from __future__ import annotations

import json

import pytest

from tests.tiny_models import CHAT_TEMPLATE, SPECIAL_TOKENS

CODE = "def foo(x):\n    return x"
PROMPTS = [
    CODE,
    "import os\nprint(os.path.join('a', 'b'))  # 123 45.6\n",
    "class Stack:\n\tdef push(self, item):\n\t\tself.items.append(item)\n",
]
N_GEN = 8


@pytest.fixture(scope="module")
def hf_tokenizer(tiny_hf_model):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tiny_hf_model))


@pytest.fixture(scope="module")
def hf_model(tiny_hf_model):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(str(tiny_hf_model)).eval()


def _llama(path, **kw):
    llama_cpp = pytest.importorskip("llama_cpp")
    return llama_cpp.Llama(model_path=str(path), n_ctx=512, verbose=False, **kw)


@pytest.fixture(scope="module")
def llm(tiny_gguf):
    """llama.cpp with its defaults (f16 KV cache)."""
    return _llama(tiny_gguf)


@pytest.fixture(scope="module")
def llm_f32(tiny_gguf):
    """llama.cpp with a float32 KV cache and logits for every position, for
    tight logit comparisons (GGML_TYPE_F32 == 0)."""
    return _llama(tiny_gguf, type_k=0, type_v=0, logits_all=True)


def _hf_greedy(model, ids, n=N_GEN):
    import torch

    with torch.no_grad():
        out = model.generate(torch.tensor([ids]), max_new_tokens=n, do_sample=False,
                             min_new_tokens=n)
    return out[0, len(ids):].tolist()


def _llama_greedy(llm, ids, n=N_GEN):
    got = []
    for tok in llm.generate(ids, temp=0.0, top_k=1, reset=True):
        got.append(tok)
        if len(got) == n:
            break
    return got


# --- (a) tokenizer ---------------------------------------------------------------

def test_tokenizer_files(tiny_hf_model):
    cfg = json.loads((tiny_hf_model / "tokenizer_config.json").read_text())
    assert cfg["chat_template"] == CHAT_TEMPLATE
    assert cfg["eos_token"] == cfg["pad_token"] == "<|endoftext|>"
    assert (tiny_hf_model / "tokenizer.json").exists()
    assert "tiny-qwen2.5-coder" in tiny_hf_model.name
    readme = (tiny_hf_model / "README.md").read_text()
    assert readme.startswith("---\n") and "\nlicense: apache-2.0\n" in readme


def test_special_tokens_are_single_ids(hf_tokenizer):
    ids = [hf_tokenizer.encode(t, add_special_tokens=False) for t in SPECIAL_TOKENS]
    assert all(len(i) == 1 for i in ids), ids
    flat = [i[0] for i in ids]
    # Consecutive, right after the BPE vocabulary, in Qwen2.5-Coder's order.
    assert flat == list(range(flat[0], flat[0] + len(SPECIAL_TOKENS)))
    assert flat[-1] == len(hf_tokenizer) - 1
    assert hf_tokenizer.eos_token_id == hf_tokenizer.pad_token_id == flat[0]
    assert 500 <= len(hf_tokenizer) <= 700


def test_tokenizer_round_trips_code(hf_tokenizer):
    for text in PROMPTS + ["unicode: héllo wörld → ✓\r\n"]:
        ids = hf_tokenizer.encode(text, add_special_tokens=False)
        assert len(ids) < len(text.encode())  # merges were learned
        assert hf_tokenizer.decode(ids) == text


def test_chat_template(hf_tokenizer):
    msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]
    text = hf_tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
    assert text == ("<|im_start|>system\nBe brief.<|im_end|>\n"
                    "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n")


# --- (b) transformers model ------------------------------------------------------

def test_hf_model_files(tiny_hf_model, hf_tokenizer, hf_model):
    cfg = json.loads((tiny_hf_model / "config.json").read_text())
    assert cfg["model_type"] == "qwen2" and cfg["architectures"] == ["Qwen2ForCausalLM"]
    assert cfg["vocab_size"] == len(hf_tokenizer)
    assert cfg["max_position_embeddings"] == 512
    assert cfg["tie_word_embeddings"] is False
    assert (tiny_hf_model / "model.safetensors").exists()
    assert hf_model.config.hidden_size == 64 and hf_model.config.num_hidden_layers == 2


def test_hf_greedy_generation_depends_on_prompt(hf_tokenizer, hf_model):
    outs = []
    for text in PROMPTS:
        ids = hf_tokenizer.encode(text, add_special_tokens=False)
        out = _hf_greedy(hf_model, ids)
        assert len(out) == N_GEN
        outs.append(out)
    assert len({tuple(o) for o in outs}) == len(PROMPTS)  # outputs differ between prompts
    assert all(len(set(o)) > 1 for o in outs)  # and are not one token repeated


# --- (c) GGUF / llama.cpp ----------------------------------------------------------

def test_gguf_metadata(llm, hf_tokenizer):
    md = llm.metadata
    assert md["general.architecture"] == "qwen2"
    assert md["general.name"] == "tiny-qwen2.5-coder-test"
    assert md["general.license"] == "apache-2.0"
    assert md["qwen2.context_length"] == "512"
    assert md["tokenizer.chat_template"] == CHAT_TEMPLATE
    assert llm.n_vocab() == len(hf_tokenizer)
    assert llm.token_eos() == hf_tokenizer.eos_token_id


def test_gguf_tokenizer_matches_hf(llm, hf_tokenizer):
    for text in PROMPTS + ["unicode: héllo wörld → ✓\r\n  x = 12345\n"]:
        want = hf_tokenizer.encode(text, add_special_tokens=False)
        assert llm.tokenize(text.encode(), add_bos=False, special=False) == want, text
        assert llm.detokenize(want).decode() == text
    assert (llm.tokenize(CODE.encode(), add_bos=False)
            == hf_tokenizer.encode(CODE, add_special_tokens=False))
    for t in SPECIAL_TOKENS:
        assert llm.tokenize(t.encode(), add_bos=False, special=True) == [
            hf_tokenizer.convert_tokens_to_ids(t)], t
    assert len(llm.tokenize(b"<|fim_prefix|>", add_bos=False, special=True)) == 1


def test_gguf_special_token_roles(llm, hf_tokenizer):
    llama_cpp = pytest.importorskip("llama_cpp")
    vocab = llama_cpp.llama_model_get_vocab(llm.model)
    tid = hf_tokenizer.convert_tokens_to_ids
    assert llama_cpp.llama_vocab_fim_pre(vocab) == tid("<|fim_prefix|>")
    assert llama_cpp.llama_vocab_fim_suf(vocab) == tid("<|fim_suffix|>")
    assert llama_cpp.llama_vocab_fim_mid(vocab) == tid("<|fim_middle|>")
    assert llama_cpp.llama_vocab_fim_pad(vocab) == tid("<|fim_pad|>")
    assert llama_cpp.llama_vocab_fim_rep(vocab) == tid("<|repo_name|>")
    assert llama_cpp.llama_vocab_fim_sep(vocab) == tid("<|file_sep|>")
    for t in ("<|endoftext|>", "<|im_end|>"):
        assert llama_cpp.llama_vocab_is_eog(vocab, tid(t)), t
    for t in SPECIAL_TOKENS:
        assert llama_cpp.llama_vocab_is_control(vocab, tid(t)), t


def test_gguf_logits_match_hf(llm_f32, hf_tokenizer, hf_model):
    np = pytest.importorskip("numpy")
    import torch

    for text in PROMPTS:
        ids = hf_tokenizer.encode(text, add_special_tokens=False)
        with torch.no_grad():
            want = hf_model(torch.tensor([ids])).logits[0].numpy()
        llm_f32.reset()
        llm_f32.eval(ids)
        got = np.asarray(llm_f32.scores[: len(ids)])
        # float32 everywhere: differences are accumulation order only (~1e-5).
        np.testing.assert_allclose(got, want, atol=1e-3, rtol=0)
        assert (got.argmax(-1) == want.argmax(-1)).all()


def test_gguf_greedy_matches_hf(llm, llm_f32, hf_tokenizer, hf_model):
    for text in PROMPTS:
        ids = hf_tokenizer.encode(text, add_special_tokens=False)
        want = _hf_greedy(hf_model, ids)
        assert _llama_greedy(llm_f32, ids) == want, text
        # llama.cpp's default f16 KV cache moves logits by ~1e-2: still the same
        # greedy tokens for these prompts.
        assert _llama_greedy(llm, ids) == want, text
