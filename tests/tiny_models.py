"""Tiny, deterministic test models shaped like Qwen2.5-Coder.

Builds in a few seconds, without any download:

* ``build_tokenizer(folder)``: a byte-level BPE (~600 tokens) trained on a few
  standard-library Python files, with Qwen2.5-Coder's special tokens and its
  ChatML chat template, saved as a transformers tokenizer folder;
* ``build_hf_model(folder)``: that tokenizer plus a randomly initialised
  2-layer ``Qwen2ForCausalLM`` (config.json + model.safetensors + README.md);
* ``build_gguf(path, hf_folder)``: the same weights and tokenizer as a float32
  GGUF file (arch ``qwen2``) that llama.cpp / llama-cpp-python loads.

Everything is seeded, so the same Python version gives the same files.
The pre-tokenizer is Qwen2's (regex split + byte-level, no prefix space), so
the HF tokenizer and llama.cpp's ``qwen2`` pre-tokenizer split text alike.
"""

from __future__ import annotations

import json
import sysconfig
from pathlib import Path

DEFAULT_HF_NAME = "tiny-qwen2.5-coder"
GGUF_NAME = "tiny-qwen2.5-coder-test"
LICENSE = "apache-2.0"

# Qwen2.5-Coder's added tokens, in id order, right after the BPE vocabulary.
SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|fim_prefix|>",
    "<|fim_middle|>",
    "<|fim_suffix|>",
    "<|fim_pad|>",
    "<|repo_name|>",
    "<|file_sep|>",
]
BPE_VOCAB_SIZE = 600  # BPE tokens (256 bytes + merges); specials come after
EOS_TOKEN = "<|endoftext|>"
PAD_TOKEN = "<|endoftext|>"

# Qwen2's pre-tokenizer regex (same as llama.cpp's LLAMA_VOCAB_PRE_TYPE_QWEN2).
QWEN2_PRETOKENIZE_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)

# ChatML, as Qwen uses it (without Qwen's default system prompt / tool calls).
CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}"
    "{{- '<|im_start|>assistant\\n' }}"
    "{%- endif %}"
)

# Model shape.
HIDDEN_SIZE = 64
NUM_LAYERS = 2
NUM_HEADS = 4
NUM_KV_HEADS = 2
INTERMEDIATE_SIZE = 128
CONTEXT_LENGTH = 512
RMS_NORM_EPS = 1e-6
ROPE_THETA = 1000000.0  # Qwen2.5-Coder's
INIT_STD = 0.2  # larger than usual, so greedy outputs depend on the prompt

_CORPUS_FILES = ["textwrap.py", "json/encoder.py", "json/decoder.py", "string.py"]


def _corpus() -> list[str]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    texts = [(stdlib / rel).read_text(encoding="utf-8") for rel in _CORPUS_FILES]
    # A little chat/FIM-shaped text so those byte sequences get merges too.
    texts.append("def add(a, b):\n    return a + b\n\nclass Foo:\n    pass\n")
    return texts


def build_tokenizer(folder) -> Path:
    """Train the tiny BPE and save it as a transformers tokenizer folder."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)

    tok = Tokenizer(models.BPE(byte_fallback=False))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_PRETOKENIZE_REGEX), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=BPE_VOCAB_SIZE,
        min_frequency=2,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=[],
    )
    tok.train_from_iterator(_corpus(), trainer=trainer)
    n_bpe = tok.get_vocab_size()
    tok.add_special_tokens(SPECIAL_TOKENS)
    for i, t in enumerate(SPECIAL_TOKENS):
        assert tok.token_to_id(t) == n_bpe + i, (t, tok.token_to_id(t))

    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token=EOS_TOKEN,
        pad_token=PAD_TOKEN,
        additional_special_tokens=SPECIAL_TOKENS[1:],
        chat_template=CHAT_TEMPLATE,
        model_max_length=CONTEXT_LENGTH,
        clean_up_tokenization_spaces=False,
    )
    # save_jinja_files=False keeps chat_template inside tokenizer_config.json.
    fast.save_pretrained(str(folder), save_jinja_files=False)
    # Make the config read like Qwen2.5-Coder's and load under transformers 4.x
    # too: "Qwen2Tokenizer" (4.x picks its fast class from tokenizer.json) and
    # "additional_special_tokens" (5.x still accepts it; 4.x wants a dict under
    # "extra_special_tokens").
    cfg_path = folder / "tokenizer_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["tokenizer_class"] = "Qwen2Tokenizer"
    cfg.pop("extra_special_tokens", None)
    cfg["additional_special_tokens"] = SPECIAL_TOKENS[1:]
    cfg["chat_template"] = CHAT_TEMPLATE
    cfg_path.write_text(json.dumps(cfg, indent=2, ensure_ascii=False) + "\n")
    return folder


def build_hf_model(folder) -> Path:
    """Tokenizer + random 2-layer Qwen2ForCausalLM, saved as safetensors in ``folder``.

    Name the folder ``.../tiny-qwen2.5-coder`` (as ``build_all`` does) so that
    name-based family detection sees Qwen2.5-Coder.
    """
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    folder = Path(folder)
    build_tokenizer(folder)
    from transformers import AutoTokenizer

    n_vocab = len(AutoTokenizer.from_pretrained(str(folder)))
    eos_id = BPE_VOCAB_SIZE + SPECIAL_TOKENS.index(EOS_TOKEN)

    config = Qwen2Config(
        vocab_size=n_vocab,
        hidden_size=HIDDEN_SIZE,
        num_hidden_layers=NUM_LAYERS,
        num_attention_heads=NUM_HEADS,
        num_key_value_heads=NUM_KV_HEADS,
        intermediate_size=INTERMEDIATE_SIZE,
        max_position_embeddings=CONTEXT_LENGTH,
        rms_norm_eps=RMS_NORM_EPS,
        rope_theta=ROPE_THETA,
        tie_word_embeddings=False,
        initializer_range=INIT_STD,
        use_sliding_window=False,
        bos_token_id=eos_id,
        eos_token_id=eos_id,
        pad_token_id=eos_id,
        torch_dtype="float32",
    )
    config._name_or_path = DEFAULT_HF_NAME
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config).to(torch.float32).eval()
    # Exercise every weight in the GGUF mapping: random biases and norm gains
    # (the default init leaves them at 0 and 1, which would hide mix-ups).
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(".bias"):
                p.copy_(torch.randn(p.shape, generator=gen) * INIT_STD)
            elif name.endswith("norm.weight"):
                p.copy_(1.0 + torch.randn(p.shape, generator=gen) * 0.1)
    model.generation_config.do_sample = False
    model.generation_config.eos_token_id = eos_id
    model.generation_config.pad_token_id = eos_id
    model.save_pretrained(str(folder), safe_serialization=True)

    (folder / "README.md").write_text(
        "---\n"
        f"license: {LICENSE}\n"
        "library_name: transformers\n"
        "pipeline_tag: text-generation\n"
        "tags:\n  - code\n  - test\n"
        "---\n\n"
        f"# {DEFAULT_HF_NAME}\n\n"
        "A tiny randomly initialised Qwen2 model (2 layers, hidden size 64) with a "
        "~600-token byte-level BPE and Qwen2.5-Coder's special tokens, built by "
        "tests/tiny_models.py for unit tests. It generates noise.\n"
    )
    return folder


def _rope_theta(cfg: dict) -> float:
    if "rope_theta" in cfg:
        return float(cfg["rope_theta"])
    rp = cfg.get("rope_parameters") or cfg.get("rope_scaling") or {}
    return float(rp.get("rope_theta", 10000.0))


# HF Qwen2 parameter name (within a layer) -> llama.cpp tensor name
_LAYER_MAP = {
    "input_layernorm.weight": "attn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.q_proj.bias": "attn_q.bias",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.k_proj.bias": "attn_k.bias",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.v_proj.bias": "attn_v.bias",
    "self_attn.o_proj.weight": "attn_output.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
}


def build_gguf(path, hf_folder) -> Path:
    """Write the HF model in ``hf_folder`` as a float32 qwen2 GGUF at ``path``."""
    import gguf
    import numpy as np
    from safetensors.numpy import load_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    hf_folder = Path(hf_folder)
    cfg = json.loads((hf_folder / "config.json").read_text())
    tok_json = json.loads((hf_folder / "tokenizer.json").read_text(encoding="utf-8"))
    tok_cfg = json.loads((hf_folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    weights = load_file(str(hf_folder / "model.safetensors"))

    # --- vocabulary, ordered by id ------------------------------------------
    n_vocab = int(cfg["vocab_size"])
    tokens: list[str | None] = [None] * n_vocab
    types = [gguf.TokenType.NORMAL] * n_vocab
    for t, i in tok_json["model"]["vocab"].items():
        tokens[i] = t
    for added in tok_json.get("added_tokens", []):
        i = added["id"]
        tokens[i] = added["content"]
        types[i] = gguf.TokenType.CONTROL if added.get("special") else gguf.TokenType.USER_DEFINED
    for i, t in enumerate(tokens):  # (no holes expected; pad like the HF converter does)
        if t is None:
            tokens[i] = f"[PAD{i}]"
            types[i] = gguf.TokenType.UNUSED
    merges = [m if isinstance(m, str) else " ".join(m) for m in tok_json["model"]["merges"]]
    ids = {t: i for i, t in enumerate(tokens)}
    eos_id = ids[EOS_TOKEN]
    pad_id = ids[PAD_TOKEN]
    template = tok_cfg.get("chat_template") or CHAT_TEMPLATE

    w = gguf.GGUFWriter(str(path), arch="qwen2")
    w.add_name(GGUF_NAME)
    w.add_license(LICENSE)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_context_length(int(cfg["max_position_embeddings"]))
    w.add_embedding_length(int(cfg["hidden_size"]))
    w.add_block_count(int(cfg["num_hidden_layers"]))
    w.add_feed_forward_length(int(cfg["intermediate_size"]))
    w.add_head_count(int(cfg["num_attention_heads"]))
    w.add_head_count_kv(int(cfg["num_key_value_heads"]))
    w.add_layer_norm_rms_eps(float(cfg["rms_norm_eps"]))
    w.add_rope_freq_base(_rope_theta(cfg))

    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("qwen2")
    w.add_token_list(tokens)
    w.add_token_types([int(t) for t in types])
    w.add_token_merges(merges)
    w.add_bos_token_id(eos_id)
    w.add_eos_token_id(eos_id)
    w.add_pad_token_id(pad_id)
    w.add_add_bos_token(False)
    w.add_chat_template(template)

    # --- tensors (PyTorch (out, in) layout; GGUFWriter reverses dims) ---------
    def f32(name: str) -> np.ndarray:
        return np.ascontiguousarray(weights[name].astype(np.float32))

    w.add_tensor("token_embd.weight", f32("model.embed_tokens.weight"))
    for i in range(int(cfg["num_hidden_layers"])):
        for hf, gg in _LAYER_MAP.items():
            w.add_tensor(f"blk.{i}.{gg}", f32(f"model.layers.{i}.{hf}"))
    w.add_tensor("output_norm.weight", f32("model.norm.weight"))
    out_name = "lm_head.weight" if "lm_head.weight" in weights else "model.embed_tokens.weight"
    w.add_tensor("output.weight", f32(out_name))

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def build_all(base_dir) -> tuple[Path, Path]:
    """Build the HF folder and its GGUF under ``base_dir``; returns both paths."""
    base_dir = Path(base_dir)
    hf = build_hf_model(base_dir / DEFAULT_HF_NAME)
    gg = build_gguf(base_dir / f"{GGUF_NAME}-f32.gguf", hf)
    return hf, gg


if __name__ == "__main__":  # python -m tests.tiny_models OUT_DIR
    import sys
    import time

    t0 = time.perf_counter()
    print(*build_all(sys.argv[1] if len(sys.argv) > 1 else "tiny-models"), sep="\n")
    print(f"built in {time.perf_counter() - t0:.1f}s")
