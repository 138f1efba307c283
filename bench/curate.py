"""Curation benchmark: `commons curate` speed per stage and block, near-dedup
precision/recall on planted near duplicates, our MinHash dedup against datatrove's
stock MinHash blocks on the same documents, and the PII table.

    python bench/curate.py 2> /tmp/curate-bench.log   # python-env, 1 and 2 workers: ~30 min on 2 quiet cores
    python bench/curate.py --source ~/src/repo --workers 2 --out /tmp/RESULTS.md
    python bench/curate.py --skip-end-to-end          # planted set and PII only: ~15 s

1. End to end, for each --workers W: `commons curate SOURCE --workers W` in a fresh
   process into a fresh folder. Wall clock of the whole run; of each stage from the files
   it writes first and last (curate.json, logs/<stage>/executor.json, then
   logs/<stage>/stats.json, work/dedup.jsonl, stats.json); per block from
   datatrove's stats (logs/<stage>/stats.json: time spent inside the block, summed
   over ranks, documents in and out, `doc_len` = characters of what a reader
   yields, a filter forwards or a writer writes). "untimed" is the ranks' wall clocks (task logs)
   minus the blocks' times: exclusion writes and hand-offs between generators
   (the reader times its own reading, decoding and licence detection).
2. Dedup speed on the documents stage 1 kept (DIR/work/filtered), same W: ours
   (Signatures -> write_decisions -> DropDuplicates) against datatrove's stock
   MinhashDedupSignature -> Buckets -> Cluster -> Filter with the same MinhashConfig
   (5-grams, 32 bands x 8 hashes, seed, normalisation, our code tokenizer), so both
   compute identical signatures; each reads the same Parquet shards.
3. Near-dedup quality: --planted distinct standard-library files (sorted, spread
   over the library), each paired with one variant made by one kind of edit (kinds
   round robin, seeded). Truth: exact Jaccard of 5-gram shingle sets of
   NON_ALPHA tokens (BigCode's near_deduplication, The Stack), duplicate when
   >= 0.7, over all pairs of the set. Predicted: a pair is found when the method,
   given those two documents, calls them duplicates: ours = `choose_keepers` on the
   two rows (signatures from the `Signatures` block), stock = the two share an LSH
   band in MinhashDedupBuckets' output (datatrove verifies nothing further).
4. PII: bench/pii.py's labelled-set table (precision/recall per kind, BigCode's figures).
The results replace the section between `<!-- bench/curate.py -->` and
`<!-- end bench/curate.py -->` in --out (bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import itertools
import json
import keyword
import os
import random
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
import pii as pii_bench  # noqa: E402  (bench/pii.py)
from report import machine_info, machine_table, write_section  # noqa: E402

from codecommons.data import steps  # noqa: E402
from codecommons.data.dedup import (NON_ALPHA, DedupConfig, DropDuplicates, Signatures,  # noqa: E402
                                    choose_keepers, code_tokenizer, minhasher, write_decisions)

START, END = "<!-- bench/curate.py -->", "<!-- end bench/curate.py -->"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run_stage(pipeline: list, logs: Path, tasks: int = 1, workers: int = 1) -> float:
    """Wall seconds of one datatrove stage (`logs` must be fresh: completed ranks are skipped)."""
    from datatrove.executor import LocalPipelineExecutor

    t = time.perf_counter()
    LocalPipelineExecutor(pipeline, tasks=tasks, workers=workers, logging_dir=str(logs)).run()
    return time.perf_counter() - t


def count(v) -> float:
    """A datatrove stats entry: a plain number, or a dict with its total."""
    return v["total"] if isinstance(v, dict) else v


# -- 1. end to end ---------------------------------------------------------------------
def curate(sources: list[str], out: Path, workers: int) -> float:
    """Wall seconds of `commons curate` in a fresh process, as a user runs it (in this
    process, a second run would find ScanCode's licence index already loaded)."""
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "codecommons", "curate", *sources, "--out", str(out),
           "--workers", str(workers), "--no-progress"]
    t = time.perf_counter()
    with open(out.with_suffix(".log"), "w") as logfile:
        done = subprocess.run(cmd, check=False, stdout=logfile, stderr=subprocess.STDOUT)
    wall = time.perf_counter() - t
    assert done.returncode == 0, f"{' '.join(cmd)} failed: see {out.with_suffix('.log')}"
    return wall


def stage_walls(out: Path) -> dict[str, float]:
    """Seconds per stage, from the modification times of what each writes first and last."""
    m = {p: (out / p).stat().st_mtime for p in (
        "curate.json", "logs/filter/executor.json", "logs/filter/stats.json", "work/dedup.jsonl",
        "logs/final/executor.json", "logs/final/stats.json", "stats.json")}
    return {"prepare (licence + decontamination indexes)": m["logs/filter/executor.json"] - m["curate.json"],
            "filter": m["logs/filter/stats.json"] - m["logs/filter/executor.json"],
            "dedup decisions (one process)": m["work/dedup.jsonl"] - m["logs/filter/stats.json"],
            "final": m["logs/final/stats.json"] - m["logs/final/executor.json"],
            "stats.json + dataset card": m["stats.json"] - m["logs/final/stats.json"]}


def rank_seconds(logs: Path) -> float:
    """Sum over ranks of each rank's wall clock: its task log's first line to 'Processing done'."""
    def stamp(line: str) -> datetime.datetime:
        return datetime.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S.%f")

    total = 0.0
    for task in sorted((logs / "logs").glob("task_*.log")):
        lines = task.read_text().splitlines()
        total += (stamp(next(ln for ln in lines if "Processing done" in ln)) - stamp(lines[0])).total_seconds()
    return total


def block_rows(stats: list[dict]) -> list[tuple[str, float, float | None, float | None]]:
    """(block, documents, input characters, seconds) per block of a stage. Readers
    have no input: their row counts what they yield. A filter's input is what the
    block before it passed on (its `doc_len` counts only what it forwards); blocks
    that drop nothing pass their input on."""
    rows, docs, chars = [], None, None
    for i, block in enumerate(stats):
        s, t = block["stats"], block["time_stats"]
        seconds = count(t) or None  # 0 when the block never calls track_time
        length = s.get("doc_len")
        out_chars = count(length) if length is not None else None
        if i == 0:
            docs_in = docs_out = count(s["files"]) if "files" in s else length.get("n", count(length))
            chars_in = out_chars
        elif "forwarded" in s or "dropped" in s:
            docs_in, chars_in, docs_out = count(s["total"]), chars, count(s.get("forwarded", 0))
            out_chars = out_chars or 0
            if chars_in is None and not s.get("dropped"):  # first filter after a reader without doc_len
                chars_in = out_chars
        else:
            docs_in, chars_in, docs_out = docs, chars, docs
            out_chars = chars if out_chars is None else out_chars
        rows.append((block["name"], docs_in, chars_in, seconds))
        docs, chars = docs_out, out_chars
    return rows


def rate(amount: float | None, seconds: float | None, scale: float = 1.0) -> str:
    return f"{amount / scale / seconds:,.1f}" if amount is not None and seconds else "-"


def blocks_table(out: Path) -> list[str]:
    lines = ["| stage | block | docs | input MB | time s (sum over ranks) | MB/s | files/s |",
             "|---|---|---|---|---|---|---|"]
    for stage in ("filter", "final"):
        stats = json.loads((out / "logs" / stage / "stats.json").read_text())
        rows = block_rows(stats)
        for name, docs, chars, sec in rows:
            mb = f"{chars / 1e6:,.1f}" if chars is not None else "n/a"
            lines.append(f"| {stage} | {name.split(': ', 1)[-1]} | {docs:,} | {mb} | "
                         f"{f'{sec:.2f}' if sec else 'untimed'} | {rate(chars, sec, 1e6)} | {rate(docs, sec)} |")
        untimed = rank_seconds(out / "logs" / stage) - sum(r[3] or 0 for r in rows)
        lines.append(f"| {stage} | untimed (exclusion writes, hand-offs) | | | {untimed:.1f} | | |")
    return lines


def end_to_end(sources: list[str], work: Path, workers: int) -> dict:
    out = work / f"curate-w{workers}"
    log(f"curate {' '.join(sources)} with {workers} worker(s) -> {out}")
    wall = curate(sources, out, workers)
    filt = block_rows(json.loads((out / "logs/filter/stats.json").read_text()))
    chars = filt[1][2]  # the first filter's input: the text read (None when unknown)
    card, stages = json.loads((out / "stats.json").read_text()), stage_walls(out)
    log(f"done in {wall:.0f} s: kept {card['kept_files']} of {card['total_files']} files")
    return {"workers": workers, "out": out, "wall": wall, "files": filt[0][1], "chars": chars,
            "stages": {"start-up, imports, exit": wall - sum(stages.values()), **stages},
            "blocks": blocks_table(out), "card": card}


def stages_table(runs: list[dict]) -> list[str]:
    head = "| stage | " + " | ".join(f"{r['workers']} worker(s): s | files/s | MB/s" for r in runs) + " |"
    lines = [head, "|---|" + "---|---|---|" * len(runs)]
    for stage in [*runs[0]["stages"], "end to end"]:
        cells = []
        for r in runs:
            sec = r["wall"] if stage == "end to end" else r["stages"][stage]
            cells.append(f"{sec:.1f} | {rate(r['files'], sec)} | {rate(r['chars'], sec, 1e6)}")
        lines.append(f"| {stage} | " + " | ".join(cells) + " |")
    return lines


# -- 2. our dedup against datatrove's stock MinHash blocks -----------------------------
def reader(folder: Path):
    from datatrove.pipeline.readers import ParquetReader

    return ParquetReader(str(folder))


def ours_dedup(src: Path, work: Path, tasks: int, workers: int, cfg: DedupConfig) -> dict:
    """Signatures (stage 1's block) -> write_decisions -> DropDuplicates, from `src` shards."""
    from datatrove.pipeline.writers import ParquetWriter

    shutil.rmtree(work, ignore_errors=True)
    signed = ParquetWriter(str(work / "signed"), output_filename="${rank}.parquet",
                           adapter=steps.intermediate_row, schema=steps.intermediate_schema())
    times = {"signatures": run_stage([reader(src), Signatures(cfg), signed], work / "logs/sign", tasks, workers)}
    t = time.perf_counter()
    drop = write_decisions(work / "signed", work / "dedup.jsonl", cfg)
    times["clusters"] = time.perf_counter() - t
    times["filter"] = run_stage([reader(src), DropDuplicates(str(work / "dedup.jsonl"))],
                                work / "logs/filter", tasks, workers)
    return {"times": times, "removed": len(drop),
            "detail": f"{sum(r == 'exact_duplicate' for r in drop.values())} exact + "
                      f"{sum(r == 'near_duplicate' for r in drop.values())} near"}


def stock_dedup(src: Path, work: Path, tasks: int, workers: int, cfg: DedupConfig) -> dict:
    """datatrove's four MinHash blocks with our MinhashConfig and tokenizer."""
    from datatrove.pipeline.dedup.minhash import (MinhashDedupBuckets, MinhashDedupCluster,
                                                  MinhashDedupFilter, MinhashDedupSignature)

    shutil.rmtree(work, ignore_errors=True)
    mh = minhasher(cfg).config
    sigs, dups, remove = (str(work / d) for d in ("sigs", "dups", "remove"))
    times = {
        "signatures": run_stage([reader(src), MinhashDedupSignature(sigs, config=mh, language=code_tokenizer())],
                                work / "logs/sign", tasks, workers),
        # Buckets needs one task per band; Cluster runs as one task.
        "buckets": run_stage([MinhashDedupBuckets(sigs, dups, config=mh)], work / "logs/buckets",
                             mh.num_buckets, workers),
        "clusters": run_stage([MinhashDedupCluster(dups, remove, config=mh)], work / "logs/cluster"),
        "filter": run_stage([reader(src), MinhashDedupFilter(remove)], work / "logs/filter", tasks, workers)}
    cluster = json.loads((work / "logs/cluster/stats.json").read_text())[0]["stats"]
    return {"times": times, "removed": int(count(cluster.get("to_remove", 0))),
            "detail": f"{int(count(cluster.get('duplicates', 0)))} docs in duplicate clusters"}


def dedup_speed(filtered: Path, work: Path, workers: int, cfg: DedupConfig) -> list[str]:
    log(f"dedup speed, ours and datatrove's stock blocks, {workers} worker(s)")
    ours = ours_dedup(filtered, work / "ours", workers, workers, cfg)
    stock = stock_dedup(filtered, work / "stock", workers, workers, cfg)
    first = json.loads((work / "ours/logs/sign/stats.json").read_text())[0]["stats"]["doc_len"]
    docs, chars = first.get("n", 0), count(first)
    lines = [f"{workers} worker(s), {docs:,} documents, {chars / 1e6:,.1f} MB:", "",
             "| dedup | step | s | docs/s | MB/s | removed |", "|---|---|---|---|---|---|"]
    for name, side in (("ours", ours), ("datatrove stock", stock)):
        for step, sec in [*side["times"].items(), ("total", sum(side["times"].values()))]:
            removed = f"{side['removed']:,} ({side['detail']})" if step == "total" else ""
            lines.append(f"| {name} | {step} | {sec:.1f} | {rate(docs, sec)} | {rate(chars, sec, 1e6)} | {removed} |")
    return lines


# -- 3. planted near duplicates --------------------------------------------------------
HEADER = "".join(f"# {ln}\n".replace("# \n", "#\n") for ln in """Copyright 2024 The Example Authors. All rights reserved.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.""".splitlines())
DEFINED = re.compile(r"^\s*(?:def|class)\s+([A-Za-z_]\w*)|^\s*([A-Za-z_]\w*)\s*=[^=]", re.MULTILINE)


def reformat(lines, rng, donor):  # re-indented, trailing spaces, extra blank lines: same tokens
    out = []
    for ln in lines:
        body = ln.lstrip(" ")
        out.append(" " * ((len(ln) - len(body)) // 2) + body + " " * (rng.random() < 0.3))
        out += [""] * (not body and rng.random() < 0.5)
    return out


def lines_edited(lines, rng, donor):  # 5% of the lines (at least 3) replaced by other code
    lines = list(lines)
    for i in rng.sample(range(len(lines)), max(3, len(lines) // 20)):
        lines[i] = rng.choice(donor)
    return lines


def renamed(lines, rng, donor):  # up to 5 names the file defines, renamed everywhere
    text = "\n".join(lines)
    names = sorted({a or b for a, b in DEFINED.findall(text)} - set(keyword.kwlist) - {"self"})
    new = {n: f"{n[:2]}_{rng.randrange(16**6):06x}" for n in rng.sample(names, min(5, len(names)))}
    return re.sub(r"\b[A-Za-z_]\w*\b", lambda m: new.get(m[0], m[0]), text).splitlines()


def licence_header(lines, rng, donor):  # an Apache-2.0 notice on top
    return HEADER.splitlines() + list(lines)


def function_appended(lines, rng, donor):  # 15-40 lines of another file appended
    n = rng.randint(15, 40)
    start = rng.randrange(max(1, len(donor) - n))
    return list(lines) + [""] + donor[start:start + n]


def truncated(lines, rng, donor):  # the first 60-90% of the file
    return list(lines[: int(len(lines) * rng.uniform(0.6, 0.9))])


def heavy_rewrite(lines, rng, donor):  # a third kept in chunks, the rest other code: not a duplicate
    chunk = max(1, len(lines) // 12)
    out = []
    for k in range(0, len(lines), chunk):
        keep = rng.random() < 0.33
        out += lines[k:k + chunk] if keep else [rng.choice(donor) for _ in lines[k:k + chunk]]
    return out


KINDS = {f.__name__: f for f in (reformat, lines_edited, renamed, licence_header, function_appended,
                                 truncated, heavy_rewrite)}


def stdlib_texts(n: int) -> list[str]:
    """2n distinct standard-library files of 3-30 kB, evenly spread over the sorted paths."""
    root, seen, texts = Path(sysconfig.get_paths()["stdlib"]), set(), []
    for p in sorted(root.rglob("*.py")):
        if "site-packages" in p.parts or not 3_000 <= p.stat().st_size <= 30_000:
            continue
        text = p.read_text(encoding="utf-8", errors="replace")
        if text not in seen:
            seen.add(text)
            texts.append(text)
    assert len(texts) >= 2 * n, f"only {len(texts)} usable standard-library files for --planted {n}"
    return texts[:: len(texts) // (2 * n)][: 2 * n]


def planted_docs(n: int, seed: int) -> list[dict]:
    """Rows 2i (an original) and 2i+1 (its variant of kind KINDS[i % len(KINDS)])."""
    texts, docs = stdlib_texts(n), []
    for i in range(n):
        kind = list(KINDS)[i % len(KINDS)]
        original, donor = texts[2 * i], texts[2 * i + 1].splitlines()
        variant = "\n".join(KINDS[kind](original.splitlines(), random.Random(f"{seed}-{i}"), donor)) + "\n"
        for name, text in (("original", original), (kind, variant)):
            docs.append({"text": text, "id": f"planted/{name}/{i:04d}", "repo": "planted",
                         "path": f"{name}/{i:04d}.py", "language": "Python", "license": "MIT",
                         "license_type": "permissive", "kind": kind})
    return docs


def jaccard(token_lists: list[list[str]], n: int) -> np.ndarray:
    """(docs, docs) exact Jaccard similarity of the n-gram shingle sets."""
    from scipy import sparse

    vocab: dict[str, int] = {}
    rows, cols = [], []
    for i, toks in enumerate(token_lists):
        ids = {vocab.setdefault(" ".join(toks[k:k + n]), len(vocab)) for k in range(len(toks) - n + 1)}
        rows += [i] * len(ids)
        cols += ids
    x = sparse.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(len(token_lists), len(vocab)))
    inter = (x @ x.T).toarray()
    size = np.asarray(x.sum(axis=1)).ravel()
    return inter / np.maximum(size[:, None] + size[None, :] - inter, 1)


def pairs_at(sim: np.ndarray, threshold: float) -> set[tuple[int, int]]:
    return {tuple(p) for p in np.argwhere(np.triu(sim >= threshold, 1)).tolist()}


def band_pairs(dups: Path, n: int) -> set[tuple[int, int]]:
    """Pairs sharing an LSH band. Each bucket's .dups holds (file, doc, file, doc) for
    neighbours in sorted signature order, so equal band signatures form chains: a
    bucket's connected components are its groups."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    found = set()
    for f in sorted(dups.glob("*.dups")):
        edges = np.fromfile(f, dtype="<u4").reshape(-1, 4)
        if not len(edges):
            continue
        assert not edges[:, [0, 2]].any(), f"{f}: planted documents are all in file 0"
        graph = coo_matrix((np.ones(len(edges)), (edges[:, 1], edges[:, 3])), shape=(n, n))
        _, label = connected_components(graph, directed=False)
        for group in np.flatnonzero(np.bincount(label) > 1):
            found.update(itertools.combinations(np.flatnonzero(label == group).tolist(), 2))
    return found


def prf(pred: set, truth: set) -> str:
    tp = len(pred & truth)
    return (f"{tp / len(pred):.3f}" if pred else "-") + " | " + (f"{tp / len(truth):.3f}" if truth else "-")


def planted(n: int, seed: int, work: Path, cfg: DedupConfig) -> tuple[list[str], dict]:
    import pyarrow as pa
    import pyarrow.parquet as pq
    from datatrove.utils.text import simplify_text
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    log(f"planted near duplicates: {n} originals + {n} variants")
    shutil.rmtree(work, ignore_errors=True)
    docs = planted_docs(n, seed)
    (work / "docs").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(docs), work / "docs" / "planted.parquet")
    ours = ours_dedup(work / "docs", work / "ours", 1, 1, cfg)
    stock = stock_dedup(work / "docs", work / "stock", 1, 1, cfg)
    rows = [r for f in sorted((work / "ours/signed").glob("*.parquet")) for r in pq.read_table(f).to_pylist()]
    assert [r["id"] for r in rows] == [d["id"] for d in docs], "signed rows out of order"

    hasher = minhasher(cfg)
    bigcode = jaccard([[t for t in NON_ALPHA.split(d["text"]) if t] for d in docs], cfg.n_grams)
    ours_tokens = jaccard([hasher.word_tokenizer.word_tokenize(simplify_text(d["text"], hasher.config.norm_config))
                           for d in docs], cfg.n_grams)
    truth, truth_ours = pairs_at(bigcode, cfg.threshold), pairs_at(ours_tokens, cfg.threshold)
    stock_found = band_pairs(work / "stock/dups", len(docs))
    # Ours verifies an estimate of the Jaccard of its own shingles (std ~0.03 at 256
    # permutations), so pairs below 0.3 there cannot reach 0.7: only the rest are asked.
    within = {(2 * i, 2 * i + 1) for i in range(n)}
    candidates = within | stock_found | pairs_at(ours_tokens, 0.3) | truth
    ours_found = {(i, j) for i, j in sorted(candidates) if choose_keepers([rows[i], rows[j]], cfg)}

    lines = ["| edit | pairs | mean Jaccard | duplicates (J >= 0.7) | ours P | ours R | stock P | stock R |",
             "|---|---|---|---|---|---|---|---|"]
    for kind in KINDS:
        pairs = {(2 * i, 2 * i + 1) for i in range(n) if docs[2 * i]["kind"] == kind}
        mean = np.mean([bigcode[p] for p in pairs])
        t = truth & pairs
        lines.append(f"| {kind} | {len(pairs)} | {mean:.2f} | {len(t)} | {prf(ours_found & pairs, t)} "
                     f"| {prf(stock_found & pairs, t)} |")
    lines.append(f"| all pairs of the set (truth: BigCode shingles) | {len(docs) * (len(docs) - 1) // 2:,} | | "
                 f"{len(truth)} | {prf(ours_found, truth)} | {prf(stock_found, truth)} |")
    lines.append(f"| all pairs (truth: the pipeline's own shingles) | | | {len(truth_ours)} | "
                 f"{prf(ours_found, truth_ours)} | {prf(stock_found, truth_ours)} |")
    n_truth_clusters = connected_components(csr_matrix(bigcode >= cfg.threshold), directed=False)[0]
    flipped = sum((bigcode[p] >= cfg.threshold) != (ours_tokens[p] >= cfg.threshold) for p in within)
    return lines, {"removed": (len(docs) - n_truth_clusters, ours["removed"], stock["removed"]),
                   "flipped": flipped, "docs": len(docs), "candidates": len(candidates)}


# -- the report --------------------------------------------------------------------------
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", nargs="+", default=["python-env"], help="`commons curate` SOURCEs")
    ap.add_argument("--workers", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--work", type=Path, help="output folder (default: a temp folder under runs/, removed at the end)")
    ap.add_argument("--skip-end-to-end", action="store_true", help="only the planted set and PII")
    ap.add_argument("--planted", type=int, default=350, help="original files in the planted set")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "RESULTS.md")
    a = ap.parse_args()
    t0 = time.time()
    (ROOT / "runs").mkdir(exist_ok=True)
    work = a.work or Path(tempfile.mkdtemp(prefix="bench-curate-", dir=ROOT / "runs"))
    work.mkdir(parents=True, exist_ok=True)
    cfg = DedupConfig()
    hw = machine_table(machine_info({"datatrove": importlib.metadata.version("datatrove"),
                                     "load average at start": f"{os.getloadavg()[0]:.2f}"}))
    body = ["## Curation — `commons curate`", "", "Command: `python bench/curate.py"
            + (f" --source {' '.join(a.source)}" if a.source != ["python-env"] else "")
            + (f" --workers {' '.join(map(str, a.workers))}" if a.workers != [1, 2] else "")
            + (" --skip-end-to-end" if a.skip_end_to_end else "") + "` (took {took}).", "", *hw, ""]
    if not a.skip_end_to_end:
        body += end_to_end_report(a.source, work, a.workers, cfg)
    body += planted_report(a.planted, a.seed, work / "planted", cfg)
    body += ["### PII detection on the labelled set (bench/pii.py; throughput there)", "",
             *pii_bench.quality_table(), "",
             (f"{len(pii_bench.CASES)} snippets from tests/pii/labelled.py; matching and caveats as in "
             "the bench/pii.py section (BigCode's figures are on their own annotated set).")]
    text = "\n".join(body).replace("{took}", f"{(time.time() - t0) / 60:.1f} min")
    print(text)
    write_section(a.out, START, END, text)
    if a.work is None:
        shutil.rmtree(work)
    return 0


def end_to_end_report(sources: list[str], work: Path, workers: list[int], cfg: DedupConfig) -> list[str]:
    runs = [end_to_end(sources, work, w) for w in workers]
    card = runs[-1]["card"]
    body = [f"### End to end on `{' '.join(sources)}`", "",
            (f"{runs[0]['files']:,} files read, {card['kept_files']:,} kept ({card['kept_bytes'] / 1e6:,.1f} MB). "
            "files/s and MB/s are of the files read and their text."), "", *stages_table(runs), ""]
    for r in runs:
        body += [f"Per block, {r['workers']} worker(s):", "", *r["blocks"], ""]
    body += [("MB = 10^6 characters of the block's input text (datatrove's `doc_len` counts characters; "
             "`n/a` where no block before it records them). Time = inside the block, "
             "summed over ranks, so a block's MB/s and files/s are per process. Stage wall clocks come from "
             "file times; 'untimed' = ranks' wall clocks minus their blocks' times."), "",
             "### Dedup: ours against datatrove's stock MinHash blocks, same documents", "",
             ("Input: the documents stage 1 kept (DIR/work/filtered). Ours: `Signatures` -> `write_decisions` "
             "(one process) -> `DropDuplicates`; stock: MinhashDedupSignature -> MinhashDedupBuckets (32 tasks) "
             "-> MinhashDedupCluster (1 task) -> MinhashDedupFilter, with our MinhashConfig and tokenizer "
             "(identical signatures). Each first step reads the Parquet shards; wall clock per step."), ""]
    for r in runs:
        body += [*dedup_speed(r["out"] / "work" / "filtered", work / f"dedup-w{r['workers']}", r["workers"], cfg), ""]
    return body


def planted_report(n: int, seed: int, work: Path, cfg: DedupConfig) -> list[str]:
    table, info = planted(n, seed, work, cfg)
    truth, ours, stock = info["removed"]
    return ["### Near-dedup precision and recall on planted near duplicates", "",
            (f"{n} distinct standard-library files (3-30 kB, sorted, evenly spread), each with one variant "
            f"({len(KINDS)} kinds of edit in turn, seed {seed}): {info['docs']} documents. Truth: exact Jaccard of "
            f"the 5-gram shingle sets of BigCode's NON_ALPHA tokens >= {cfg.threshold}, over every pair of the "
            "set. A pair is found when the method, given those two documents alone, calls them duplicates: "
            "ours = `choose_keepers` on their two rows (asked for the "
            f"{info['candidates']:,} pairs that could pass: original/variant pairs, pairs sharing a band, "
            "pairs with Jaccard >= 0.3), stock = they share an LSH band (32 x 8) in MinhashDedupBuckets' output."),
            "", *table, "",
            (f"Documents removed from the whole set: truth (one kept per connected group) {truth}, ours {ours}, "
            f"stock {stock}. The pipeline's own shingles (datatrove's text normalisation, then the "
            "NON_ALPHA split) give a different duplicate label than BigCode's for "
            f"{info['flipped']} of the {n} original/variant pairs."), ""]


if __name__ == "__main__":
    sys.exit(main())
