"""Decontamination false drops and recall: which python-env files the n-gram filter
drops, on which n-grams, under each rule; and whether every benchmark problem
written into a file is still caught.

    python bench/decontam.py                 # every code file of python-env: ~5-8 min on 2 cores

Rules compared (each over the same benchmark records, codecommons.benchmarks):
  before  12-grams, every n-gram of every problem indexed (the rule until now);
  after   12-grams, only n-grams with >= MIN_CONTENT_TOKENS content tokens
          (codecommons.data.decontam.informative: not a number, single character,
          keyword of the benchmarks' languages, common builtin or number word);
  n=16    16-grams, every n-gram: the other obvious fix, for comparison.
Files: every file of python-env that curation's language stage keeps (a known
language, not vendored), before the licence and quality stages, so a superset of
what the filter sees in a run. Recall: each problem's prompt followed by its
solution as one file ("prompt + solution"), and its solution alone where that has
at least n tokens ("solution only").
Results replace the section between `<!-- bench/decontam.py -->` and
`<!-- end bench/decontam.py -->` in --out.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
from report import machine_info, machine_table, write_section  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", default="python-env")
    ap.add_argument("--out", default=str(ROOT / "bench" / "RESULTS.md"))
    args = ap.parse_args()

    from datatrove.utils.hashing import create_hash_func
    from datatrove.utils.text import ngrams, simplify_text

    from codecommons.benchmarks import decontamination_records
    from codecommons.data import decontam
    from codecommons.data import language as lang
    from codecommons.data.dedup import code_tokenizer
    from codecommons.data.sources import open_source

    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    cfg = decontam._config()
    hash_func = create_hash_func(cfg.hash_config)
    tok = code_tokenizer()
    records = list(decontamination_records())
    rules = {"before": (12, False), "after": (12, True), "n=16": (16, False)}
    indexes: dict[str, dict[int, str]] = {}
    for name, (n, content_only) in rules.items():
        cfg.n_grams = n
        index: dict[int, str] = {}
        for bench, prompt, solution in records:
            for g in decontam.benchmark_ngrams(prompt, solution, cfg):
                if not content_only or decontam.informative(g):
                    index.setdefault(hash_func(" ".join(g)), bench)
        indexes[name] = index
    cfg.n_grams = decontam.N_GRAMS

    def tokens(text: str) -> list[str]:
        return tok.word_tokenize(simplify_text(text, cfg.norm_config))

    def first_hit(toks: list[str], rule: str) -> tuple[str, str] | None:
        n, index = rules[rule][0], indexes[rule]
        for g in ngrams(toks, n):
            joined = " ".join(g)
            bench = index.get(hash_func(joined))
            if bench:
                return bench, joined
        return None

    # recall on the benchmarks themselves
    recall = {}
    for rule, (n, _) in rules.items():
        both = sum(first_hit(tokens(p + "\n" + s), rule) is not None for _, p, s in records)
        long_solutions = [s for _, _, s in records if len(tokens(s)) >= n]
        alone = sum(first_hit(tokens(s), rule) is not None for s in long_solutions)
        recall[rule] = (both, len(records), alone, len(long_solutions))

    # false drops on real code
    files = 0
    drops: dict[str, list[tuple[str, str, str, str]]] = {r: [] for r in rules}
    for repo in open_source(args.source):
        for f in repo.files():
            if f.reason or not f.text or lang.is_vendored(f.path) or lang.language_of(f.path, f.text) is None:
                continue
            files += 1
            toks = tokens(f.text)
            for rule in rules:
                hit = first_hit(toks, rule)
                if hit:
                    drops[rule].append((repo.name, f.path, *hit))
    took = time.perf_counter() - t0

    info = machine_info({"datatrove": importlib.metadata.version("datatrove"),
                         "load average at start": f"{load:.2f}"})
    body = [
        "## Curation: decontamination false drops — `bench/decontam.py`", "",
        f"Command: `python bench/decontam.py --source {args.source}` (took {took / 60:.1f} min). "
        f"{files:,} code files of `{args.source}` (those curation's language stage keeps); "
        f"{len(records):,} benchmark problems ({', '.join(sorted({b for b, _, _ in records}))}). "
        f"`after` is what `commons curate` does now: 12-grams with at least "
        f"{decontam.MIN_CONTENT_TOKENS} content tokens.", "",
        *machine_table(info), "",
        "| rule | n-grams indexed | files dropped | problems caught (prompt + solution) "
        "| solutions caught (solution only, >= n tokens) |",
        "|---|---:|---:|---:|---:|",
        *[f"| {rule} | {len(indexes[rule]):,} | {len(drops[rule])} | {recall[rule][0]}/{recall[rule][1]} "
          f"| {recall[rule][2]}/{recall[rule][3]} |" for rule in rules],
        "",
        "Files the `before` rule dropped, and whether `after` still does (every one is a false "
        "drop: none holds a benchmark problem):", "",
        "| repo | path | benchmark | matched n-gram | dropped after |",
        "|---|---|---|---|---|",
    ]
    after = {(r, p) for r, p, _, _ in drops["after"]}
    for repo, path, bench, gram in sorted(drops["before"]):
        body.append(f"| {repo} | {path} | {bench} | `{gram}` | {'yes' if (repo, path) in after else 'no'} |")
    if drops["after"]:
        body += ["", "Dropped by `after`:", "", "| repo | path | benchmark | matched n-gram |", "|---|---|---|---|",
                 *[f"| {r} | {p} | {b} | `{g}` |" for r, p, b, g in sorted(drops["after"])]]
    write_section(Path(args.out), "<!-- bench/decontam.py -->", "<!-- end bench/decontam.py -->",
                  "\n".join(body))
    print(f"{files} files; dropped: " + ", ".join(f"{r} {len(d)}" for r, d in drops.items()), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
