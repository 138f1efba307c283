"""Decontamination: drop training files that contain a benchmark's prompt,
docstring or solution (HumanEval, MBPP, MultiPL-E, the SantaCoder FIM set), as
BigCode did for StarCoder (arXiv:2305.06161 §3.5).

Matching is datatrove's n-gram decontamination: the benchmark texts are hashed as
n-grams of code tokens (prompt n-grams, solution n-grams and the n-grams spanning
the prompt/solution boundary) and a file is dropped when any of its n-grams is in
that index. The index is written once per output folder in datatrove's format;
datatrove's own indexer step is not used because it always loads lighteval's task
registry, which these benchmarks are not in.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np

N_GRAMS = 12  # code tokens per n-gram: long enough that shared idioms do not match


def _config():
    from datatrove.pipeline.decont.n_grams import NGramsDecontConfig
    from datatrove.utils.text import TextNormConfig

    norm = TextNormConfig(lowercase=False, norm_numbers=False, norm_weekdays=False,
                          norm_monthnames=False, remove_punctuation=True, norm_whitespace=True,
                          norm_unicode_diacritics=False)
    return NGramsDecontConfig(n_grams=N_GRAMS, find_query_ngrams=True, find_overlap_ngrams=True,
                              norm_config=norm)


def build_index(folder: Path) -> Path:
    """Write `<benchmark>.index.hashes` files (uint64 n-gram hashes) into `folder`;
    kept when present (resume)."""
    from datatrove.pipeline.decont.n_grams import NGramsDecontIndexer
    from datatrove.utils.hashing import create_hash_func

    from codecommons.benchmarks import decontamination_records
    from codecommons.data.dedup import code_tokenizer

    marker = folder / "complete"
    if marker.exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    # The indexer's constructor insists on lighteval; its hashing method needs only
    # these three attributes, so the same n-grams and hashes come from its own code.
    cfg = _config()
    indexer = SimpleNamespace(config=cfg, tokenizer=code_tokenizer(),
                              hash_func=create_hash_func(cfg.hash_config))
    hashes: dict[str, set[int]] = {}
    for benchmark, prompt, solution in decontamination_records():
        found = NGramsDecontIndexer.compute_hashes(indexer, solution, prompt)
        hashes.setdefault(benchmark, set()).update(found)
    for benchmark, values in sorted(hashes.items()):
        np.array(sorted(values), dtype=np.uint64).tofile(folder / f"{benchmark}.index.hashes")
    marker.write_text("\n".join(sorted(hashes)) + "\n")
    return folder


def decontaminate(index: Path, exclusion_writer=None):
    """The pipeline block: datatrove's NGramsDecontFilter on our index and tokenizer
    (drop reason "contaminated"; the benchmark and n-gram go to the metadata)."""
    from datatrove.pipeline.decont.n_grams import NGramsDecontFilter

    from codecommons.data.dedup import code_tokenizer

    return NGramsDecontFilter(str(index), config=_config(), exclusion_writer=exclusion_writer,
                              language=code_tokenizer())
