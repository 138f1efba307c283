"""The FIM training transform (tokenizer/fim.py): every example reassembles to its
document, PSM examples begin with the serving prompt, and the rates are StarCoder's.

    python -m pytest tests/tokenizer/test_fim_transform.py -q
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codecommons.tokenizer.fim import (TEMPLATES, FimConfig, FimExample, fim_segments, fim_split,
                                       fim_transform, reassemble)

# CodeLlama's layout puts literal spaces around its sentinels, which reassembly
# cannot tell from document text; we train StarCoder- and Qwen-format models.
NAMES = [n for n in TEMPLATES if n != "codellama"]


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=200), seed=st.integers(0, 2**32), name=st.sampled_from(NAMES),
       spm_rate=st.sampled_from([0.0, 0.5, 1.0]))
def test_every_example_reassembles_to_its_document(text, seed, name, spm_rate):
    ex = fim_transform(text, random.Random(seed), FimConfig(rate=1.0, spm_rate=spm_rate))
    assert ex.prefix + ex.middle + ex.suffix == text
    assert reassemble(TEMPLATES[name], fim_segments(TEMPLATES[name], ex)) == text


@settings(max_examples=100, deadline=None)
@given(text=st.text(min_size=1, max_size=100), seed=st.integers(0, 2**32), name=st.sampled_from(NAMES))
def test_psm_training_sequence_starts_with_the_serving_prompt(text, seed, name):
    t = TEMPLATES[name]
    prefix, middle, suffix = fim_split(text, random.Random(seed))
    segs = fim_segments(t, FimExample(prefix, middle, suffix, spm=False))
    serving = t.segments(prefix, suffix)
    assert segs[:len(serving)] == serving
    assert "".join(s.text for s in segs[len(serving):]) == middle


def test_spm_is_bigcode_variant_2():
    t = TEMPLATES["starcoder"]
    segs = fim_segments(t, FimExample("P", "M", "S", spm=True))
    assert [s.text for s in segs] == ["<fim_prefix>", "<fim_suffix>", "S", "<fim_middle>", "P", "M"]
    assert [s.special for s in segs] == [True, True, False, True, False, False]


def test_rates_are_starcoders_by_default():
    rng = random.Random(0)
    draws = [fim_transform("def f():\n    return 1\n", rng) for _ in range(4000)]
    fim = [d for d in draws if d is not None]
    assert abs(len(fim) / len(draws) - 0.5) < 0.03
    assert abs(sum(d.spm for d in fim) / len(fim) - 0.5) < 0.04
    assert all(fim_transform("x", random.Random(i), FimConfig(rate=0.0)) is None for i in range(50))


def test_config_is_checked():
    with pytest.raises(AssertionError, match="FIM rate must be in"):
        FimConfig(rate=1.5)
