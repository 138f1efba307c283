"""`commons train tokenizer`: StarCoder's BPE recipe on a curated dataset.

    python -m pytest tests/train/test_tokenizer.py -q
"""

from __future__ import annotations

import json

import pytest

from codecommons.tokenizer.fim import REPO_FORMATS, TEMPLATES, detect_template
from codecommons.train.data import Codec
from codecommons.train.tokenizer import PII_TOKENS, SPECIAL_TOKENS, TokenizerConfig


def test_loads_in_transformers_with_the_system_special_tokens(tiny_tokenizer):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_tokenizer))
    assert len(tok) == 1000
    assert tok.eos_token == tok.bos_token == "<|endoftext|>" and tok.eos_token_id == 0
    for t in SPECIAL_TOKENS + PII_TOKENS:
        assert len(tok(t, add_special_tokens=False)["input_ids"]) == 1, t
    # Serving picks StarCoder's FIM template for a GPTBigCode model with this tokenizer,
    # and StarCoder2's repository format (<repo_name>, <file_sep>) for other files.
    specials = {t.content for t in tok.added_tokens_decoder.values() if t.special}
    t = detect_template("starcoder", specials.__contains__)
    assert t.tokens == TEMPLATES["starcoder"].tokens and t.repo == REPO_FORMATS["starcoder2"]


def test_digits_are_split_one_by_one(tiny_tokenizer):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_tokenizer))
    pieces = tok.tokenize("x = 1234567")
    assert [p for p in pieces if p.isdigit()] == list("1234567")


def test_pii_placeholders_survive_decoding_and_sentinel_text_stays_text(tiny_tokenizer):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_tokenizer))
    text = "key = '<KEY>'  # mail <EMAIL>"
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert tok.decode(ids, skip_special_tokens=True) == text  # placeholders are not "special"
    codec = Codec(tok, "starcoder")
    ids, _ = codec.encode("s = '<fim_prefix>'")
    assert tok.convert_tokens_to_ids("<fim_prefix>") not in ids
    assert tok.decode(ids) == "s = '<fim_prefix>'"


def test_report_and_card(tiny_tokenizer):
    rep = json.loads((tiny_tokenizer / "tokenizer_report.json").read_text())
    assert rep["heldout_files"] >= 1
    bpt = rep["bytes_per_token"]["this tokenizer"]
    assert 1.0 < bpt < 8.0
    assert rep["config"]["vocab_size"] == 1000 and "git_commit" in rep
    card = (tiny_tokenizer / "README.md").read_text()
    assert f"| this tokenizer | {bpt} |" in card and "tiny test dataset" in card


def test_config_errors_name_the_flags():
    with pytest.raises(ValueError, match="--out DIR is required\n--vocab-size must be"):
        TokenizerConfig(dataset="d", out="", vocab_size=10)


@pytest.mark.integration
def test_bytes_per_token_next_to_qwen(tiny_dataset, tmp_path):
    from codecommons.train import tokenizer

    assert tokenizer.main([str(tiny_dataset), "--vocab-size", "1000", "--out", str(tmp_path),
                           "--heldout-fraction", "0.2"]) == 0
    bpt = json.loads((tmp_path / "tokenizer_report.json").read_text())["bytes_per_token"]
    qwen = next(v for k, v in bpt.items() if k.startswith("qwen2.5-coder-0.5b"))
    assert qwen > bpt["this tokenizer"]  # a 151k vocabulary beats a 1k one on any code
