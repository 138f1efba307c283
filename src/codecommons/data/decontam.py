"""Decontamination: drop training files that contain a benchmark's prompt,
docstring or solution (HumanEval, MBPP, MultiPL-E, the SantaCoder FIM set), as
BigCode did for StarCoder (arXiv:2305.06161 §3.5).

Matching is datatrove's n-gram decontamination: the benchmark texts are hashed as
n-grams of code tokens (prompt n-grams, solution n-grams and the n-grams spanning
the prompt/solution boundary) and a file is dropped when any of its n-grams is in
that index. The index is written once per output folder in datatrove's format;
datatrove's own indexer step is not used because it always loads lighteval's task
registry, which these benchmarks are not in.

Generic n-grams are left out of the index. Benchmarks hold n-grams that any code
base has: `0 1 2 3 4 5 6 7 8 9 A B`, the primes `2 3 5 7 11 13 ...`, `one 1 two 2
three 3 ...`, `if a b return a elif a b return b else return`, `for i in range n 1
for j in range n 1`. On python-env these dropped 24 of 33,212 code files, every
one a false drop, and every one on an n-gram with no token that carries content
(bench/decontam.py lists them). So an n-gram is indexed only when at least
MIN_CONTENT_TOKENS of its N_GRAMS tokens carry content: tokens that are not
numbers, single characters, keywords of the benchmarks' languages, common
builtins or number words (`TRIVIAL`). With 2 (one more than the false drops need):
no false drop on python-env, every one of the 1,661 benchmark problems still
caught in a file holding its prompt and solution, and 689 of the 749 solutions
long enough to match caught on their own; the 60 others are textbook code
(`m = l[0]; for e in l: if e > m: m = e`, a trial-division prime test) that any
file may hold. bench/decontam.py compares thresholds 1-5 and 16-grams.
"""

from __future__ import annotations

import keyword
from pathlib import Path

import numpy as np

N_GRAMS = 12  # code tokens per n-gram: long enough that shared idioms do not match
MIN_CONTENT_TOKENS = 2  # of N_GRAMS; see the module notes and bench/decontam.py
MODES = ("all", "none")

# Keywords of the benchmarks' languages (Python, JavaScript, Java, C++, Rust, shell),
# builtins every solution calls, and number words: tokens that say nothing about
# which program they come from.
_KEYWORDS = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | frozenset("""
    abstract arguments async await boolean break byte case catch char class const continue
    debugger default delete do double else enum eval export extends false final finally float
    for function goto if implements import in instanceof int interface let long native new null
    package private protected public return short static super switch synchronized this throw
    throws transient true try typeof undefined var void volatile while with yield
    auto bool signed unsigned struct template typename namespace using std vector string size_t
    nullptr include fn mut impl pub mod crate self Self loop usize isize i32 i64 u8 u32 u64
    f32 f64 Vec String Option Some None Ok Err then fi done esac elif local echo""".split())
_BUILTINS = frozenset("""
    range len print str int float list dict set tuple sum min max abs sorted reversed
    enumerate zip map filter isinstance append length push size console log Math""".split())
_NUMBER_WORDS = frozenset("""
    zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen
    fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty
    ninety hundred thousand million""".split())
TRIVIAL = _KEYWORDS | _BUILTINS


def _trivial(token: str) -> bool:
    return token.isdigit() or len(token) == 1 or token in TRIVIAL or token.lower() in _NUMBER_WORDS


def informative(ngram: tuple[str, ...] | list[str]) -> bool:
    """Whether an n-gram has at least MIN_CONTENT_TOKENS tokens that carry content."""
    return sum(not _trivial(t) for t in ngram) >= MIN_CONTENT_TOKENS


def _config():
    from datatrove.pipeline.decont.n_grams import NGramsDecontConfig
    from datatrove.utils.text import TextNormConfig

    norm = TextNormConfig(lowercase=False, norm_numbers=False, norm_weekdays=False,
                          norm_monthnames=False, remove_punctuation=True, norm_whitespace=True,
                          norm_unicode_diacritics=False)
    return NGramsDecontConfig(n_grams=N_GRAMS, find_query_ngrams=True, find_overlap_ngrams=True,
                              norm_config=norm)


def benchmarks(mode: str) -> list[str]:
    """The benchmarks `--decontaminate MODE` removes: all those whose data is
    here (codecommons.benchmarks.available()), or none."""
    if mode not in MODES:
        raise ValueError(f"--decontaminate must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "none":
        return []
    from codecommons.benchmarks import available

    return available()


def describe(names: list[str]) -> dict:
    """What a run decontaminated against, for its manifest (curate.json, the card)."""
    return {"benchmarks": list(names), "n_grams": N_GRAMS,
            "min_content_tokens": MIN_CONTENT_TOKENS} if names else {"benchmarks": []}


def benchmark_ngrams(prompt: str, solution: str, config=None) -> list[list[str]]:
    """The n-grams datatrove's indexer takes from one problem (its compute_hashes):
    the solution's, the prompt's, and those spanning the prompt/solution boundary."""
    from datatrove.utils.text import ngrams, simplify_text

    from codecommons.data.dedup import code_tokenizer

    cfg = config or _config()
    tok = code_tokenizer()
    n = cfg.n_grams
    label = tok.word_tokenize(simplify_text(solution, cfg.norm_config))
    query = tok.word_tokenize(simplify_text(prompt, cfg.norm_config))
    out = [list(g) for g in ngrams(label, n)] + [list(g) for g in ngrams(query, n)]
    out += [query[-n + 1 + i:] + label[:i + 1] for i in range(n - 1)
            if len(query) >= n - 1 - i and len(label) >= i + 1]
    return out


def build_index(folder: Path, names: list[str] | None = None) -> Path:
    """Write `<benchmark>.index.hashes` files (uint64 hashes of the informative
    n-grams) for the named benchmarks (default: every one available) into
    `folder`; kept when present (resume)."""
    from datatrove.utils.hashing import create_hash_func

    from codecommons.benchmarks import decontamination_records

    marker = folder / "complete"
    if marker.exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    cfg = _config()
    hash_func = create_hash_func(cfg.hash_config)  # the filter's, so the hashes agree
    hashes: dict[str, set[int]] = {}
    for benchmark, prompt, solution in decontamination_records(names):
        found = hashes.setdefault(benchmark, set())
        found.update(hash_func(" ".join(g)) for g in benchmark_ngrams(prompt, solution, cfg)
                     if informative(g))
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
