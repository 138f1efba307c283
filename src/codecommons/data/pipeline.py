"""`commons curate`: sources -> a permissively licensed, PII-redacted code dataset.

    commons curate python-env --out runs/stack                 # the Python installation
    commons curate ./repos/* https://host/org/repo.git --out runs/mine --workers 2
    commons curate python-env --out runs/stack --resume        # after a kill: same output

Runs on datatrove: every rank writes DIR/data/NNNNN.parquet and DIR/excluded/*.jsonl
and a completion marker last (DIR/logs/completions), so a rerun with --resume
skips finished ranks and redoes a killed one from its start, giving the same
bytes as an uninterrupted run. Then DIR/stats.json and the dataset card
DIR/README.md are written from those files.

Stages not in this pipeline yet (see the project notes): opt-out, deduplication,
malware scanning, decontamination.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from codecommons.config import add_arguments, field, from_args, manifest
from codecommons.data.quality import QualityConfig

EXECUTORS = ("local", "slurm", "ray")


@dataclass
class CurateConfig:
    out: str = field("", "output folder (DIR/data, DIR/excluded, DIR/stats.json, DIR/README.md)")
    workers: int = field(1, "processes (and ranks) on this machine")
    executor: str = field("local", "local | slurm | ray (slurm/ray: datatrove's executors)")
    resume: bool = field(False, "continue an interrupted run in DIR (finished ranks are kept)")
    max_file_bytes: int = field(1 << 20, "files larger than this are excluded")
    keep_no_license: bool = field(False, "keep files with no licence (default: excluded)")
    progress: bool = field(True, "show progress")

    def __post_init__(self) -> None:
        problems = []
        if not self.out:
            problems.append("--out DIR is required")
        if self.workers < 1:
            problems.append(f"--workers must be >= 1, got {self.workers}")
        if self.executor not in EXECUTORS:
            problems.append(f"--executor must be one of {', '.join(EXECUTORS)}")
        if problems:
            raise ValueError("\n".join(problems))


def build_pipeline(sources: list[str], cfg: CurateConfig, quality: QualityConfig) -> list:
    from datatrove.pipeline.writers import JsonlWriter, ParquetWriter

    from codecommons.data import steps

    out = Path(cfg.out)

    def excluded(stage: str) -> JsonlWriter:
        return JsonlWriter(str(out / "excluded"), output_filename=f"{stage}_${{rank}}.jsonl",
                           adapter=steps.excluded_row, compression=None)

    allowed = ("permissive", "no_license") if cfg.keep_no_license else ("permissive",)
    return [
        steps.ReadRepos(sources, cfg.max_file_bytes),
        steps.Unusable(exclusion_writer=excluded("unusable")),
        steps.Language(exclusion_writer=excluded("language")),
        steps.License(allowed, exclusion_writer=excluded("license")),
        steps.Quality(quality, exclusion_writer=excluded("quality")),
        steps.RedactPII(),
        ParquetWriter(str(out / "data"), output_filename="${rank}.parquet",
                      adapter=steps.output_row, compression="snappy"),
    ]


def make_executor(pipeline: list, cfg: CurateConfig):
    logs = str(Path(cfg.out) / "logs")
    if cfg.executor == "local":
        from datatrove.executor import LocalPipelineExecutor

        return LocalPipelineExecutor(pipeline, tasks=cfg.workers, workers=cfg.workers,
                                     logging_dir=logs, skip_completed=True)
    if cfg.executor == "slurm":
        from datatrove.executor import SlurmPipelineExecutor

        return SlurmPipelineExecutor(pipeline, tasks=cfg.workers, time="24:00:00",
                                     partition="default", logging_dir=logs, job_name="curate")
    from datatrove.executor import RayPipelineExecutor

    return RayPipelineExecutor(pipeline, tasks=cfg.workers, logging_dir=logs)


def run(sources: list[str], cfg: CurateConfig, quality: QualityConfig | None = None) -> dict:
    from codecommons.data.card import write_card

    quality = quality or QualityConfig()
    out = Path(cfg.out)
    if out.exists() and any(out.iterdir()) and not cfg.resume:
        raise FileExistsError(f"{out} is not empty: pass --resume to continue that run, or "
                              f"choose a new --out")
    out.mkdir(parents=True, exist_ok=True)
    run_manifest = {**manifest(cfg), "quality": asdict(quality), "sources": sources}
    for run_control in ("resume", "progress", "out"):  # not part of what the data is
        run_manifest["config"].pop(run_control)
    saved = out / "curate.json"
    if cfg.resume and saved.exists():
        before = json.loads(saved.read_text())
        if (before["sources"], before["quality"]) != (sources, run_manifest["quality"]):
            raise ValueError(f"{out} was made from other sources or settings; resume with the "
                             f"same ones ({before['sources']}) or choose a new --out")
    saved.write_text(json.dumps(run_manifest, indent=2) + "\n")
    _warm_license_index()
    make_executor(build_pipeline(sources, cfg, quality), cfg).run()
    return write_card(out, run_manifest)


def _warm_license_index() -> None:
    """Load ScanCode's licence index once before worker processes fork."""
    from codecommons.licenses import load_index

    load_index()


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="commons curate", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sources", nargs="+", metavar="SOURCE",
                    help="folder, git repo (path or URL), .tar.gz/.zip archive, or python-env")
    add_arguments(ap, CurateConfig)
    add_arguments(ap, QualityConfig)
    args = ap.parse_args(argv)
    try:
        cfg, quality = from_args(CurateConfig, args), from_args(QualityConfig, args)
        stats = run(args.sources, cfg, quality)
    except (ValueError, FileExistsError, FileNotFoundError) as e:
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
