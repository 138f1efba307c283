"""Export a transformers model folder to GGUF (f16), and quantise it (Q8_0,
Q4_K_M) with llama.cpp's own quantiser, so `commons serve --model out.gguf` runs
it on the CPU engine.

The conversion follows llama.cpp's `convert_hf_to_gguf.py` for the architectures
we train and fine-tune:
  * Qwen2ForCausalLM -> arch "qwen2" (Qwen2.5-Coder; `Qwen2Model` there),
  * GPTBigCodeForCausalLM -> arch "starcoder" (our pretrained models; `StarCoderModel`).
Other architectures are refused rather than written wrongly (Llama, for one,
needs the converter's Q/K permutation).
Tensor names come from the `gguf` package's own mapping (`get_tensor_name_map`,
the table the converter uses); 2-D weights are written in f16, norms and biases
in f32, as the converter does for `--outtype f16`. The tokenizer is written as
llama.cpp's "gpt2" (byte-level BPE) model with the pre-tokenizer llama.cpp
recognises for that family, token types (special -> CONTROL, other added ->
USER_DEFINED), merges, and end-of-text / padding ids.

Quantisation calls `llama_model_quantize` from llama-cpp-python (the binding
ships llama.cpp's quantiser; nothing is built).
"""

from __future__ import annotations

import json
from pathlib import Path

QUANTS = ("f16", "q8_0", "q4_k_m")

# architecture class -> (gguf arch, llama.cpp pre-tokenizer name)
ARCHS = {
    "Qwen2ForCausalLM": ("qwen2", "qwen2"),
    # Digits one by one, then GPT-2's regex: llama.cpp's LLAMA_VOCAB_PRE_TYPE_STARCODER.
    "GPTBigCodeForCausalLM": ("starcoder", "starcoder"),
}


def _import_gguf():
    try:
        import gguf
    except ImportError as e:
        raise ImportError("GGUF export needs the gguf package: pip install 'codecommons[train]'") from e
    return gguf


def _hparams(w, arch: str, cfg: dict) -> None:
    if arch == "qwen2":
        w.add_context_length(int(cfg["max_position_embeddings"]))
        w.add_embedding_length(int(cfg["hidden_size"]))
        w.add_block_count(int(cfg["num_hidden_layers"]))
        w.add_feed_forward_length(int(cfg["intermediate_size"]))
        w.add_head_count(int(cfg["num_attention_heads"]))
        w.add_head_count_kv(int(cfg["num_key_value_heads"]))
        w.add_layer_norm_rms_eps(float(cfg["rms_norm_eps"]))
        rope = cfg.get("rope_theta") or (cfg.get("rope_parameters") or {}).get("rope_theta", 10000.0)
        w.add_rope_freq_base(float(rope))
    else:  # starcoder
        w.add_context_length(int(cfg["n_positions"]))
        w.add_embedding_length(int(cfg["n_embd"]))
        w.add_block_count(int(cfg["n_layer"]))
        w.add_feed_forward_length(int(cfg.get("n_inner") or 4 * cfg["n_embd"]))
        w.add_head_count(int(cfg["n_head"]))
        w.add_head_count_kv(1)
        w.add_layer_norm_eps(float(cfg["layer_norm_epsilon"]))


def _vocab(w, gguf, folder: Path, n_vocab: int, pre: str) -> None:
    tok = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    tok_cfg = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    tokens: list[str | None] = [None] * n_vocab
    types = [gguf.TokenType.NORMAL] * n_vocab
    for t, i in tok["model"]["vocab"].items():
        if i < n_vocab:
            tokens[i] = t
    for added in tok.get("added_tokens", []):
        i = added["id"]
        if i < n_vocab:
            tokens[i] = added["content"]
            types[i] = gguf.TokenType.CONTROL if added.get("special") else gguf.TokenType.USER_DEFINED
    for i, t in enumerate(tokens):  # embedding rows past the tokenizer: padding, as the converter
        if t is None:
            tokens[i], types[i] = f"[PAD{i}]", gguf.TokenType.UNUSED
    ids = {t: i for i, t in enumerate(tokens)}
    merges = [m if isinstance(m, str) else " ".join(m) for m in tok["model"]["merges"]]
    eot = ids.get("<|endoftext|>", ids.get(tok_cfg.get("eos_token") or "", 0))
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(pre)
    w.add_token_list(tokens)
    w.add_token_types([int(t) for t in types])
    w.add_token_merges(merges)
    eos = ids.get(tok_cfg.get("eos_token") or "", eot)
    w.add_bos_token_id(eot)
    w.add_eos_token_id(eos)
    w.add_pad_token_id(ids.get(tok_cfg.get("pad_token") or "", eot))
    w.add_add_bos_token(False)
    # transformers >= 4.47 may keep the template in its own file.
    jinja = folder / "chat_template.jinja"
    template = tok_cfg.get("chat_template") or (jinja.read_text(encoding="utf-8") if jinja.exists() else "")
    if template:
        w.add_chat_template(template)


def export(folder: str | Path, out: str | Path, name: str = "", license: str = "") -> Path:
    """Write the model in `folder` as an f16 GGUF at `out`."""
    import numpy as np
    from safetensors.numpy import load_file

    gguf = _import_gguf()
    folder, out = Path(folder), Path(out)
    cfg = json.loads((folder / "config.json").read_text())
    cls = (cfg.get("architectures") or ["?"])[0]
    if cls not in ARCHS:
        raise ValueError(f"{folder}: GGUF export supports {', '.join(ARCHS)}, not {cls}")
    arch, pre = ARCHS[cls]
    n_layer = int(cfg.get("num_hidden_layers") or cfg["n_layer"])
    names = gguf.get_tensor_name_map(next(a for a, n in gguf.MODEL_ARCH_NAMES.items() if n == arch), n_layer)
    weights: dict = {}
    for f in sorted(folder.glob("*.safetensors")):
        weights.update(load_file(str(f)))
    n_vocab = int(cfg["vocab_size"])

    out.parent.mkdir(parents=True, exist_ok=True)
    w = gguf.GGUFWriter(str(out), arch=arch)
    w.add_name(name or folder.name)
    if license:
        w.add_license(license)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    _hparams(w, arch, cfg)
    _vocab(w, gguf, folder, n_vocab, pre)
    for hf_name, t in weights.items():
        if hf_name.endswith((".attn.bias", ".attn.masked_bias")) or hf_name == "transformer.bias":
            continue  # causal-mask buffers of old checkpoints
        gg_name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if gg_name is None:
            raise ValueError(f"{folder}: no GGUF name for tensor {hf_name} ({arch})")
        t = t.astype(np.float32)
        w.add_tensor(gg_name, np.ascontiguousarray(t.astype(np.float16) if t.ndim == 2 else t))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return out


def quantize(src: str | Path, dst: str | Path, kind: str) -> Path:
    """llama.cpp's quantiser: `kind` is q8_0 or q4_k_m (tensors whose shape a k-quant
    cannot take fall back to a legacy type, as llama-quantize does)."""
    import ctypes

    try:
        import llama_cpp
    except ImportError as e:
        raise ImportError("quantising needs llama-cpp-python: pip install 'codecommons[serve]'") from e
    ftypes = {"q8_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0, "q4_k_m": llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M}
    if kind not in ftypes:
        raise ValueError(f"unknown quantisation {kind!r}; choose one of {', '.join(ftypes)}")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftypes[kind]
    params.nthread = 0  # all cores
    rc = llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), ctypes.byref(params))
    if rc != 0:
        raise RuntimeError(f"llama_model_quantize({src} -> {dst}, {kind}) failed with code {rc}")
    return Path(dst)
