"""`commons train finetune` on the tiny Qwen2-shaped model: LoRA with before/after
evaluation, GGUF export served by the llama.cpp engine answering a FIM request,
full fine-tuning of a folder curated on the fly.

    python -m pytest tests/train/test_finetune.py -q
"""

from __future__ import annotations

import json
import shutil
import sysconfig
import threading
from pathlib import Path

import httpx
import pytest

from codecommons.train import finetune

COMMON = Path("/usr/share/common-licenses")


@pytest.fixture(scope="module")
def lora_run(tiny_hf_model, tiny_dataset, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ft") / "lora"
    assert finetune.main(["--model", str(tiny_hf_model), "--data", str(tiny_dataset), "--method", "lora",
                          "--max-steps", "3", "--seq-len", "128", "--heldout-fraction", "0.2",
                          "--eval-lines", "4", "--eval-contexts", "4", "--eval-max-tokens", "8", "--lr", "1e-2",
                          "--gguf", "q8_0", "--no-progress", "--out", str(out)]) == 0
    return out


def test_lora_adapter_merged_model_and_evaluation(lora_run, tiny_hf_model):
    import torch
    from safetensors.torch import load_file

    assert json.loads((lora_run / "adapter" / "adapter_config.json").read_text())["r"] == 16
    res = json.loads((lora_run / "eval.json").read_text())
    for when in ("before", "after"):
        assert res[when]["n"] == 4 and 0 <= res[when]["exact_match"] <= 1
        assert res[when]["heldout_loss"] > 0
    assert res["training"]["tokens"] == 3 * 4 * 128 and res["training"]["trainable_params"] > 0
    assert res["heldout_files"] and all(p.endswith(".py") for p in res["heldout_files"])
    merged = load_file(str(lora_run / "model" / "model.safetensors"))
    base = load_file(str(tiny_hf_model / "model.safetensors"))
    changed = [k for k in base if not torch.equal(base[k], merged[k])]
    assert changed and all("proj" in k for k in changed)  # LoRA touched the linear layers only
    card = (lora_run / "model" / "README.md").read_text()
    assert "base_model: tiny-qwen2.5-coder" in card and "license: apache-2.0" in card
    assert "FIM exact match before (4 held-out lines)" in card
    assert "finetuned (model-q8_0.gguf, llama.cpp)" in card


def test_gguf_export_matches_transformers(lora_run, tmp_path):
    """The f16 export computes what the merged transformers model computes: same
    greedy tokens through the llama.cpp and transformers engines."""
    from codecommons.engines.base import SamplingParams, load_engine
    from codecommons.models.registry import resolve
    from codecommons.train.export_gguf import export

    f16 = export(lora_run / "model", tmp_path / "m-f16.gguf", name="tiny-qwen2.5-coder-ft")
    params = SamplingParams(max_tokens=12, temperature=0.0, ignore_eos=True)
    prompt_text = "def add(a, b):\n    return"
    outs = []
    for path in (f16, lora_run / "model"):
        engine = load_engine(resolve(str(path)), **({"n_threads": 1} if path == f16 else {"device": "cpu"}))
        try:
            from codecommons.tokenizer.fim import Segment

            outs.append([t.id for t in engine.generate([Segment(prompt_text)], params, threading.Event())])
        finally:
            engine.close()
    assert outs[0] == outs[1] and len(outs[0]) == 12


def test_exported_gguf_serves_a_fim_request(lora_run):
    from codecommons.engines.base import load_engine
    from codecommons.models.registry import resolve
    from tests.serve.live import running_server

    spec = resolve(str(lora_run / "model-q8_0.gguf"))
    assert spec.family == "qwen2.5-coder" and spec.license == "apache-2.0"
    engine = load_engine(spec, n_threads=1)
    try:
        assert engine.fim_template().name == "qwen"
        assert "<|im_start|>" in engine.chat_template()  # the chat template travels too
        with running_server(engine) as url:
            r = httpx.post(url + "/v1/completions", json={
                "prompt": "def add(a, b):\n    ", "suffix": "\n\nprint(add(1, 2))\n",
                "max_tokens": 8, "temperature": 0}, timeout=60)
    finally:
        engine.close()
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "text_completion" and isinstance(body["choices"][0]["text"], str)
    assert body["usage"]["prompt_tokens"] > 5


def test_full_finetune_of_a_folder_curated_on_the_fly(tiny_hf_model, tmp_path):
    import torch
    from safetensors.torch import load_file

    repo = tmp_path / "repo"
    (repo / "pkg").mkdir(parents=True)
    shutil.copy(COMMON / "Apache-2.0", repo / "LICENSE")
    lib = Path(sysconfig.get_paths()["stdlib"])
    for name in ("colorsys.py", "bisect.py", "secrets.py", "signal.py", "token.py", "getpass.py"):
        shutil.copy(lib / name, repo / "pkg" / name)
    out = tmp_path / "out"
    assert finetune.main(["--model", str(tiny_hf_model), "--data", str(repo), "--method", "full",
                          "--max-steps", "2", "--seq-len", "64", "--grad-accum", "1", "--eval-lines", "0",
                          "--heldout-fraction", "0.3", "--no-progress", "--out", str(out)]) == 0
    assert isinstance(json.loads((out / "curated" / "stats.json").read_text()), dict)
    assert list((out / "curated" / "data").glob("*.parquet"))
    assert not (out / "adapter").exists()
    new = load_file(str(out / "model" / "model.safetensors"))
    base = load_file(str(tiny_hf_model / "model.safetensors"))
    assert sum(not torch.equal(base[k], new[k]) for k in base) > len(base) // 2  # every weight trains
    res = json.loads((out / "eval.json").read_text())
    assert res["before"]["heldout_loss"] and res["after"]["heldout_loss"]


def test_config_errors_name_the_flags():
    with pytest.raises(ValueError, match="--model is required\n--data is required\n--out is required\n"
                                         "--method must be one of lora, full"):
        finetune.FinetuneConfig(method="qlora")


def test_a_gguf_base_loads_as_a_plain_savable_model(tiny_gguf, tiny_hf_model, tmp_path):
    """The embedded models are GGUFs: transformers dequantises them, and the result
    must train and save like any model folder."""
    import torch
    from transformers import AutoModelForCausalLM

    model, tok, spec = finetune.load_base(str(tiny_gguf))
    assert spec.family == "qwen2.5-coder" and getattr(model, "hf_quantizer", None) is None
    ref = AutoModelForCausalLM.from_pretrained(str(tiny_hf_model)).eval()
    ids = torch.tensor([tok("def f(x):\n    return x")["input_ids"]])
    with torch.no_grad():
        assert torch.allclose(model(input_ids=ids).logits, ref(input_ids=ids).logits, atol=1e-5)
    model.save_pretrained(str(tmp_path / "m"))
    assert (tmp_path / "m" / "model.safetensors").exists()
