"""The compact GPTBigCode (train/model.py) is transformers' GPTBigCode: a saved
checkpoint loads in transformers and gives the same logits.

    python -m pytest tests/train/test_model.py -q
"""

from __future__ import annotations

import pytest
import torch

from codecommons.train.model import SIZES, GPTBigCode, GPTConfig


def tiny(**kw) -> GPTBigCode:
    torch.manual_seed(0)
    return GPTBigCode(GPTConfig(vocab_size=300, n_positions=64, **{**SIZES["tiny"], **kw}))


def test_same_logits_as_transformers(tmp_path):
    from transformers import AutoModelForCausalLM

    model = tiny().eval()
    with torch.no_grad():  # non-trivial norms and biases, so a mix-up would show
        for name, p in model.named_parameters():
            if name.endswith("bias") or "ln" in name:
                p.add_(torch.randn_like(p) * 0.1)
    model.save_pretrained(tmp_path)
    hf = AutoModelForCausalLM.from_pretrained(str(tmp_path)).eval()
    assert type(hf).__name__ == "GPTBigCodeForCausalLM" and hf.config.multi_query
    idx = torch.randint(0, 300, (2, 64), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ours, theirs = model(idx), hf(input_ids=idx).logits
    assert ours.shape == theirs.shape == (2, 64, 300)
    assert torch.allclose(ours, theirs, atol=1e-4, rtol=1e-4), (ours - theirs).abs().max()
    # and back: transformers' weights into the compact model
    again = GPTBigCode.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        assert torch.equal(again(idx), ours)


def test_causal_and_tied():
    model = tiny().eval()
    assert model.lm_head.weight is model.transformer.wte.weight
    a = torch.randint(0, 300, (1, 32))
    b = a.clone()
    b[0, 20:] = (b[0, 20:] + 1) % 300
    with torch.no_grad():
        assert torch.allclose(model(a)[0, :20], model(b)[0, :20], atol=1e-6)


def test_sizes_have_the_advertised_parameter_counts():
    counts = {}
    for name in ("125m", "350m"):
        with torch.device("meta"):
            m = GPTBigCode(GPTConfig(vocab_size=49152, n_positions=2048, **SIZES[name]))
        counts[name] = m.num_params() / 1e6
    assert 105 < counts["125m"] < 135 and 290 < counts["350m"] < 370, counts


def test_rejects_other_architectures(tmp_path):
    (tmp_path / "config.json").write_text('{"model_type": "llama"}')
    with pytest.raises(ValueError, match="not a multi-query GPTBigCode"):
        GPTBigCode.from_pretrained(tmp_path)
