"""`commons train tokenizer`: a byte-level BPE trained on a curated dataset.

    commons train tokenizer runs/stack --vocab-size 49152 --out runs/tok
    commons train tokenizer runs/stack --vocab-size 8192 --sample-bytes 20000000 --out runs/tok-small

StarCoder's recipe (bigcode-project/bigcode-tokenizer `starcoder/train_bpe_tokenizer.py`):
the `tokenizers` BPE with digits split one by one (`Digits(individual_digits=True)`,
so numbers are never merged into arbitrary chunks), then GPT-2's byte-level
pre-tokenizer and decoder; bos = eos = unk = <|endoftext|>. Special tokens are the
ones the rest of the system uses: end of text, the four FIM tokens (StarCoder's
spelling, so serving detects the "starcoder" template), StarCoder2's repository and
file-separator tokens and StarCoder's file-name token. The placeholders curation
writes for redacted PII (pii/redact.py) are added tokens too, but not special ones:
they stay in decoded text, as they are ordinary text in the training data.

Training reads a uniform sample (by document hash) of the train split, about
`--sample-bytes` of code. Bytes per token is then measured on held-out files
for this tokenizer and for Qwen2.5-Coder's (read from the embedded GGUF) and
written to DIR/tokenizer_report.json and the card DIR/README.md.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

from codecommons.config import add_arguments, field, from_args, manifest
from codecommons.pii.redact import PLACEHOLDERS
from codecommons.train import data

EOT = "<|endoftext|>"
# In id order right after EOT: FIM (StarCoder order: prefix, middle, suffix, pad),
# then repository context.
SPECIAL_TOKENS = [EOT, "<fim_prefix>", "<fim_middle>", "<fim_suffix>", "<fim_pad>",
                  "<repo_name>", "<file_sep>", "<filename>"]
PII_TOKENS = sorted(set(PLACEHOLDERS.values()))
COMPARE_WITH = "qwen2.5-coder-0.5b"  # the embedded model whose tokenizer we compare with


@dataclass
class TokenizerConfig:
    dataset: str = field("", "curated dataset folder (DIR/data/*.parquet)")
    out: str = field("", "output folder (a transformers tokenizer)")
    vocab_size: int = field(49152, "vocabulary size including special tokens (StarCoder: 49152)")
    sample_bytes: int = field(200_000_000, "about this many bytes of training documents are read")
    min_frequency: int = field(2, "a merge needs at least this many occurrences")
    heldout_fraction: float = field(0.05, "share of files held out (same split as pretraining)")
    eval_bytes: int = field(2_000_000, "bytes of held-out files for the bytes-per-token report")
    compare: bool = field(True, f"also measure {COMPARE_WITH}'s tokenizer (needs the embedded model)")
    seed: int = field(0, "seed of the train/held-out split")
    model_max_length: int = field(8192, "model_max_length written into the tokenizer config")

    def __post_init__(self) -> None:
        problems = []
        if not self.dataset:
            problems.append("DATASET is required")
        if not self.out:
            problems.append("--out DIR is required")
        n_min = 256 + len(SPECIAL_TOKENS) + len(PII_TOKENS)
        if self.vocab_size <= n_min:
            problems.append(f"--vocab-size must be > {n_min} (256 bytes + special tokens)")
        if not 0 <= self.heldout_fraction < 1:
            problems.append("--heldout-fraction must be in [0, 1)")
        if problems:
            raise ValueError("\n".join(problems))


def sample_texts(files: list[Path], cfg: TokenizerConfig):
    """Train-split documents, each kept with probability sample_bytes / total bytes."""
    import pyarrow.parquet as pq

    total = sum(sum(pq.read_table(f, columns=["size"]).column(0).to_pylist()) for f in files)
    rate = min(1.0, cfg.sample_bytes / max(total, 1))
    for _, doc in data.iter_docs(files, "train", cfg.heldout_fraction, cfg.seed):
        key = f"sample/{cfg.seed}/{doc.repo}/{doc.path}"
        if data.is_heldout(key, rate, cfg.seed):  # the same uniform hash, another key
            yield doc.text


def train(texts, cfg: TokenizerConfig):
    """A `PreTrainedTokenizerFast` trained on `texts`."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=cfg.vocab_size - len(PII_TOKENS), min_frequency=cfg.min_frequency,
        special_tokens=SPECIAL_TOKENS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in PII_TOKENS])
    assert tok.token_to_id(EOT) == 0, "end of text must be id 0 (StarCoder's layout)"
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=EOT, eos_token=EOT, unk_token=EOT, pad_token=EOT,
        additional_special_tokens=SPECIAL_TOKENS[1:], model_max_length=cfg.model_max_length,
        clean_up_tokenization_spaces=False)


def bytes_per_token(tokenizer, texts: list[str]) -> float:
    """UTF-8 bytes of `texts` over their token count (special-token strings as text)."""
    codec = data.Codec(tokenizer)
    n_bytes = sum(len(t.encode("utf-8")) for t in texts)
    n_tokens = sum(len(codec.encode(t)[0]) for t in texts)
    return n_bytes / max(n_tokens, 1)


def load_gguf_tokenizer(path: str):
    """The tokenizer inside a GGUF file, through transformers' GGUF reader."""
    from transformers import AutoTokenizer

    p = Path(path)
    return AutoTokenizer.from_pretrained(str(p.parent), gguf_file=p.name)


def heldout_texts(files: list[Path], cfg: TokenizerConfig) -> list[str]:
    out, n = [], 0
    for _, doc in data.iter_docs(files, "heldout", cfg.heldout_fraction, cfg.seed):
        out.append(doc.text)
        n += len(doc.text.encode("utf-8"))
        if n >= cfg.eval_bytes:
            break
    return out


def report(tokenizer, files: list[Path], cfg: TokenizerConfig) -> dict:
    texts = heldout_texts(files, cfg)
    rep = {"heldout_files": len(texts), "heldout_bytes": sum(len(t.encode()) for t in texts),
           "bytes_per_token": {}}
    if not texts:
        return rep
    rep["bytes_per_token"]["this tokenizer"] = round(bytes_per_token(tokenizer, texts), 4)
    if cfg.compare:
        from codecommons.models.registry import resolve

        qwen = load_gguf_tokenizer(resolve(COMPARE_WITH).path)
        rep["bytes_per_token"][f"{COMPARE_WITH} (vocab {len(qwen)})"] = round(
            bytes_per_token(qwen, texts), 4)
    return rep


def write_card(out: Path, cfg: TokenizerConfig, rep: dict, n_vocab: int, dataset_card: str) -> None:
    rows = "\n".join(f"| {k} | {v} |" for k, v in rep["bytes_per_token"].items())
    (out / "README.md").write_text(f"""---
library_name: transformers
tags: [code, tokenizer]
---

# Code Commons tokenizer

Byte-level BPE (StarCoder's recipe: digits split one by one, GPT-2 byte-level
pre-tokenizer), {n_vocab} tokens, trained by `commons train tokenizer` on a sample
of about {cfg.sample_bytes:,} bytes of the train split of `{cfg.dataset}`.

Special tokens: {", ".join(SPECIAL_TOKENS)}. PII placeholders (added, not special):
{", ".join(PII_TOKENS)}.

## Bytes per token on {rep["heldout_files"]} held-out files ({rep["heldout_bytes"]:,} bytes)

| tokenizer | bytes/token |
|---|---|
{rows}

## Training data

{dataset_card or "(the dataset has no card)"}
""")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="commons train tokenizer", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", metavar="DATASET", help="a `commons curate --out` folder")
    add_arguments(parser, TokenizerConfig, skip=("dataset",))
    args = parser.parse_args(argv)
    cfg = from_args(TokenizerConfig, args)
    files = data.shard_files(cfg.dataset)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    tokenizer = train(sample_texts(files, cfg), cfg)
    tokenizer.save_pretrained(str(out))
    print(f"trained a {len(tokenizer)}-token BPE in {time.perf_counter() - t0:.1f}s -> {out}")
    rep = report(tokenizer, files, cfg)
    for name, bpt in rep["bytes_per_token"].items():
        print(f"  bytes/token on {rep['heldout_files']} held-out files: {bpt:.3f}  {name}")
    (out / "tokenizer_report.json").write_text(json.dumps({**rep, **manifest(cfg)}, indent=2) + "\n")
    card = Path(cfg.dataset) / "README.md"
    write_card(out, cfg, rep, len(tokenizer), card.read_text() if card.exists() else "")
    return 0
