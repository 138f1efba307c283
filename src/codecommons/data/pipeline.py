"""`commons curate`: sources -> a permissively licensed, PII-redacted code dataset.

    commons curate python-env --out runs/stack                 # the Python installation
    commons curate ./repos/* https://host/org/repo.git --out runs/mine --workers 2
    commons curate python-env --out runs/stack --resume        # after a kill: same output
    commons curate python-env:pypi/click,pypi/h11 --out runs/two   # some of the installation

Runs on datatrove in three stages:
  1. filter (per rank): read -> opt-out -> unusable -> language -> licence -> quality ->
     malware (ClamAV/YARA, with --clamav-db/--yara-rules) -> decontamination ->
     MinHash signatures, survivors to DIR/work/filtered;
  2. dedup (one process): exact and near-duplicate clusters, one keeper each
     (most permissive licence, then shortest path) -> DIR/work/dedup.jsonl;
  3. final (per rank): drop duplicates -> redact PII -> DIR/data/*.parquet
     (skipped when nothing survived stage 1: DIR/data then holds one empty shard).
Dropped files go to DIR/excluded/<stage>_<rank>.jsonl with their reason. Each rank
writes a completion marker last (DIR/logs/<stage>/completions), so a rerun with
--resume skips finished ranks and redoes a killed one from its start, giving the
same bytes as an uninterrupted run. Then DIR/stats.json and the dataset card
DIR/README.md are written from the output files.

"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from codecommons import dataset
from codecommons.config import add_arguments, field, from_args, manifest
from codecommons.data.dedup import DedupConfig
from codecommons.data.executors import EXECUTORS, ClusterConfig, ClusterError
from codecommons.data.quality import QualityConfig

DECONTAMINATE = ("all", "none")


@dataclass
class CurateConfig:
    out: str = field("", "output folder (DIR/data, DIR/excluded, DIR/stats.json, DIR/README.md)")
    workers: int = field(1, "ranks: processes on this machine, or tasks on a cluster")
    executor: str = field("local", "local | slurm | ray (datatrove's executors; see --partition, "
                                   "--ray-address)")
    resume: bool = field(False, "continue an interrupted run in DIR (finished ranks are kept)")
    max_file_bytes: int = field(1 << 20, "files larger than this are excluded")
    keep_no_license: bool = field(False, "keep files with no licence (default: excluded)")
    opt_out: str = field("", "opt-out registry (default: $COMMONS_HOME/optout.jsonl)")
    clamav_db: str = field("", "ClamAV signature files/folders, comma-separated (never downloaded)")
    yara_rules: str = field("", "YARA rule files, comma-separated")
    clamd: bool = field(False, "scan through a private clamd per worker (large databases)")
    decontaminate: str = field("all", "all: drop files holding any benchmark `commons eval` has "
                                      "the data of; none: keep them")
    progress: bool = field(True, "show progress")

    def __post_init__(self) -> None:
        problems = []
        if not self.out:
            problems.append("--out DIR is required")
        if self.workers < 1:
            problems.append(f"--workers must be >= 1, got {self.workers}")
        if self.executor not in EXECUTORS:
            problems.append(f"--executor must be one of {', '.join(EXECUTORS)}")
        if self.decontaminate not in DECONTAMINATE:
            problems.append(f"--decontaminate must be one of {', '.join(DECONTAMINATE)}, "
                            f"got {self.decontaminate!r}")
        if problems:
            raise ValueError("\n".join(problems))


def filter_stage(sources: list[str], cfg: CurateConfig, quality: QualityConfig,
                 dedup: DedupConfig) -> list:
    """Stage 1, per rank: read, filter, sign; survivors go to DIR/work/filtered."""
    from datatrove.pipeline.writers import ParquetWriter

    from codecommons.data import steps
    from codecommons.data.decontam import decontaminate
    from codecommons.data.dedup import Signatures
    from codecommons.data.malware import MalwareScan
    from codecommons.data.optout import OptOut

    allowed = ("permissive", "no_license") if cfg.keep_no_license else ("permissive",)
    return [
        steps.ReadRepos(sources, cfg.max_file_bytes),
        # Before dedup (an opted-out copy must never be the one kept) and before PII
        # redaction (which erases the emails that author opt-outs match).
        OptOut(cfg.opt_out or None, exclusion_writer=_excluded(cfg, "opt_out")),
        steps.Unusable(exclusion_writer=_excluded(cfg, "unusable")),
        steps.Language(exclusion_writer=_excluded(cfg, "language")),
        steps.License(allowed, exclusion_writer=_excluded(cfg, "license")),
        steps.Quality(quality, exclusion_writer=_excluded(cfg, "quality")),
        MalwareScan(_paths(cfg.clamav_db), _paths(cfg.yara_rules), clamd=cfg.clamd,
                    exclusion_writer=_excluded(cfg, "malware")),
        *([decontaminate(Path(cfg.out) / "work" / "decontam-index",
                         exclusion_writer=_excluded(cfg, "decontam"))]
          if cfg.decontaminate == "all" else []),
        Signatures(dedup),
        ParquetWriter(str(Path(cfg.out) / "work" / "filtered"), output_filename="${rank}.parquet",
                      adapter=steps.intermediate_row, compression="snappy",
                      schema=steps.intermediate_schema()),
    ]


def final_stage(cfg: CurateConfig, decisions: Path) -> list:
    """Stage 3, per rank: drop duplicates, redact PII, write DIR/data."""
    from datatrove.pipeline.readers import ParquetReader
    from datatrove.pipeline.writers import ParquetWriter

    from codecommons.data import steps
    from codecommons.data.dedup import DropDuplicates

    return [
        ParquetReader(str(Path(cfg.out) / "work" / "filtered")),
        DropDuplicates(str(decisions), exclusion_writer=_excluded(cfg, "dedup")),
        steps.RedactPII(),
        ParquetWriter(str(Path(cfg.out) / "data"), output_filename="${rank}.parquet",
                      adapter=steps.output_row, compression="snappy",
                      schema=dataset.schema()),
    ]


def _paths(csv: str) -> list[str] | None:
    return [p for p in csv.split(",") if p] or None


def _excluded(cfg: CurateConfig, stage: str):
    from datatrove.pipeline.writers import JsonlWriter

    from codecommons.data import steps

    return JsonlWriter(str(Path(cfg.out) / "excluded"), output_filename=f"{stage}_${{rank}}.jsonl",
                       adapter=steps.excluded_row, compression=None)


def make_executor(pipeline: list, cfg: CurateConfig, stage: str = "filter",
                  cluster: ClusterConfig | None = None):
    """The executor (data/executors.py) that runs one stage's ranks."""
    from codecommons.data.executors import make_executor as _make

    return _make(pipeline, cfg.executor, cfg.workers, Path(cfg.out) / "logs" / stage, cluster,
                 name=f"curate-{stage}")


def run(sources: list[str], cfg: CurateConfig, quality: QualityConfig | None = None,
        dedup: DedupConfig | None = None, cluster: ClusterConfig | None = None) -> dict:
    from codecommons.data import decontam
    from codecommons.data.card import write_card
    from codecommons.data.dedup import write_decisions
    from codecommons.data.executors import check, run_stage
    from codecommons.data.sources import check_source
    from codecommons.optout.registry import Registry

    for source in sources:
        check_source(source)
    check(cfg.executor, cluster or ClusterConfig())
    quality, dedup = quality or QualityConfig(), dedup or DedupConfig()
    out = Path(cfg.out)
    if out.exists() and any(out.iterdir()) and not cfg.resume:
        raise FileExistsError(f"{out} is not empty: pass --resume to continue that run, or "
                              f"choose a new --out")
    out.mkdir(parents=True, exist_ok=True)
    benchmarks = decontam.benchmarks(cfg.decontaminate)
    run_manifest = {**manifest(cfg), "quality": asdict(quality), "dedup": asdict(dedup),
                    "sources": sources,
                    "opt_out_digest": Registry.load(cfg.opt_out or None).digest(),
                    "decontamination": decontam.describe(benchmarks)}
    # Not part of what the data is: where and how the run ran (datatrove records the
    # executor's settings in DIR/logs/<stage>/executor.json).
    for run_control in ("resume", "progress", "out", "executor"):
        run_manifest["config"].pop(run_control)
    saved = out / "curate.json"
    if cfg.resume and saved.exists():
        before = json.loads(saved.read_text())
        keys = ("sources", "quality", "dedup", "config", "opt_out_digest", "decontamination")
        if any(before.get(k) != run_manifest[k] for k in keys):
            raise ValueError(f"{out} was made from other sources or settings; resume with the "
                             f"same ones ({before['sources']}) or choose a new --out")
    saved.write_text(json.dumps(run_manifest, indent=2) + "\n")
    if cfg.executor == "local":
        _warm_license_index()
    if benchmarks:
        decontam.build_index(out / "work" / "decontam-index", benchmarks)
    logs = out / "logs"
    run_stage(make_executor(filter_stage(sources, cfg, quality, dedup), cfg, "filter", cluster),
              "filter", logs / "filter")
    write_decisions(out / "work" / "filtered", out / "work" / "dedup.jsonl", dedup)
    if any((out / "work" / "filtered").glob("*.parquet")):  # else datatrove's reader raises
        run_stage(make_executor(final_stage(cfg, out / "work" / "dedup.jsonl"), cfg, "final", cluster),
                  "final", logs / "final")
    ensure_a_shard(out / "data")
    return write_card(out, run_manifest)


def ensure_a_shard(data: Path) -> None:
    """When nothing was kept, DIR/data/00000.parquet with the output schema and no
    row groups, so the card's `data_files: data/*.parquet` matches a file and
    readers get the columns: pyarrow, pandas and `datasets` streaming read it as
    empty. (Non-streaming `datasets.load_dataset` refuses any empty split; with no
    file at all it fails too, and without the schema. A file with one empty row
    group breaks `datasets` even when streaming: its batch size is 0.)"""
    if any(data.glob("*.parquet")):
        return
    import pyarrow.parquet as pq

    data.mkdir(parents=True, exist_ok=True)
    pq.ParquetWriter(data / "00000.parquet", dataset.schema(), compression="snappy").close()


def _warm_license_index() -> None:
    """Load ScanCode's licence index once, in this process, before the local
    executor's workers fork from it (and for --workers 1, which runs ranks in this
    process). Cluster ranks load it in their own processes."""
    from codecommons.licenses import load_index

    load_index()


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="commons curate", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sources", nargs="+", metavar="SOURCE",
                    help="folder, git repo (path or URL), .tar.gz/.zip archive, or python-env")
    add_arguments(ap, CurateConfig)
    add_arguments(ap, QualityConfig)
    add_arguments(ap, DedupConfig)
    add_arguments(ap, ClusterConfig)
    args = ap.parse_args(argv)
    try:
        cfg, quality = from_args(CurateConfig, args), from_args(QualityConfig, args)
        stats = run(args.sources, cfg, quality, from_args(DedupConfig, args),
                    from_args(ClusterConfig, args))
    except (ValueError, FileExistsError, FileNotFoundError, ClusterError) as e:
        print(f"commons curate: {e}", file=sys.stderr)
        return 1
    print_summary(stats)
    return 0


def print_summary(stats: dict) -> None:
    width = shutil.get_terminal_size((100, 20)).columns
    print(f"kept {stats['kept_files']} files ({stats['kept_bytes'] / 1e6:.1f} MB) of "
          f"{stats['total_files']}; excluded by reason:"[:width])
    for reason, n in sorted(stats["excluded"].items(), key=lambda kv: -kv[1]):
        print(f"  {reason:<32} {n:>9}")
    print("by language (top 10):")
    for name, row in list(stats["languages"].items())[:10]:
        print(f"  {name:<32} {row['files']:>9} files {row['bytes'] / 1e6:>9.2f} MB")
