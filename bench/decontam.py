"""Decontamination false drops and recall: which python-env files the n-gram filter
drops, on which n-grams, under each rule; and whether every benchmark problem
written into a file is still caught.

    python bench/decontam.py                 # every code file of python-env: ~5-8 min on 2 cores

Rules compared (each over the same benchmark records, codecommons.benchmarks):
  before        12-grams, every n-gram of every problem indexed (the rule until now);
  content >= K  12-grams with at least K content tokens (not a number, single
                character, keyword of the benchmarks' languages, common builtin or
                number word: codecommons.data.decontam), K = 1..5; `commons curate`
                uses K = MIN_CONTENT_TOKENS;
  n=16          16-grams, every n-gram: the other obvious fix, for comparison.
A content rule's index is a subset of `before`'s, so only files `before` drops can
be dropped by it: those are the files it is checked on.
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
    def content(g) -> int:
        return sum(not decontam._trivial(t) for t in g)

    current = f"content >= {decontam.MIN_CONTENT_TOKENS}"
    rules = {"before": (12, 0), **{f"content >= {k}": (12, k) for k in range(1, 6)}, "n=16": (16, 0)}
    indexes: dict[str, dict[int, str]] = {}
    for name, (n, min_content) in rules.items():
        cfg.n_grams = n
        index: dict[int, str] = {}
        for bench, prompt, solution in records:
            for g in decontam.benchmark_ngrams(prompt, solution, cfg):
                if content(g) >= min_content:
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
            before = first_hit(toks, "before")
            for rule in rules:  # content rules can only drop what `before` drops
                hit = before if rule == "before" else (
                    first_hit(toks, rule) if before or not rule.startswith("content") else None)
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
        f"**{current}** is what `commons curate` does now. Solutions alone that the content "
        "rules miss are textbook code (`m = l[0]; for e in l: if e > m: m = e; return m`, a "
        "trial-division prime test): matching them would drop every file with that idiom. "
        "Every file `before` dropped matched on an n-gram with no content token at all.", "",
        *machine_table(info), "",
        "| rule | n-grams indexed | files dropped | problems caught (prompt + solution) "
        "| solutions caught (solution only, >= n tokens) |",
        "|---|---:|---:|---:|---:|",
        *[f"| {'**' + rule + '**' if rule == current else rule} | {len(indexes[rule]):,} | {len(drops[rule])} "
          f"| {recall[rule][0]}/{recall[rule][1]} | {recall[rule][2]}/{recall[rule][3]} |" for rule in rules],
        "",
        f"Files the `before` rule dropped, and whether `{current}` still does (every one is a "
        "false drop: none holds a benchmark problem):", "",
        f"| repo | path | benchmark | matched n-gram | dropped by {current} |",
        "|---|---|---|---|---|",
    ]
    after = {(r, p) for r, p, _, _ in drops[current]}
    for repo, path, bench, gram in sorted(drops["before"]):
        body.append(f"| {repo} | {path} | {bench} | `{gram}` | {'yes' if (repo, path) in after else 'no'} |")
    for rule in ("n=16",):
        body += ["", f"Dropped by `{rule}`:", "", "| repo | path | benchmark | matched n-gram |",
                 "|---|---|---|---|", *[f"| {r} | {p} | {b} | `{g}` |" for r, p, b, g in sorted(drops[rule])]]
    write_section(Path(args.out), "<!-- bench/decontam.py -->", "<!-- end bench/decontam.py -->",
                  "\n".join(body))
    print(f"{files} files; dropped: " + ", ".join(f"{r} {len(d)}" for r, d in drops.items()), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
