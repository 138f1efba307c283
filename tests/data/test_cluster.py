"""`commons curate` on real clusters started here: a single-node Slurm cluster
(munged, slurmctld, slurmd on localhost) and a local Ray cluster (`ray start
--head`, two CPUs), each giving the same bytes as the local executor on part of
python-env. Skipped, with the reason, where a cluster cannot be started.

    python -m pytest tests/data/test_cluster.py -q -m cluster      # ~2-3 min on 2 cores
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from codecommons.data.executors import ClusterConfig, time_limit_seconds
from codecommons.data.pipeline import CurateConfig, run
from tests.data.clusters import Unavailable, ray_cluster, slurm_cluster

SOURCE = "python-env:pypi/idna,pypi/h11"
ROOT = Path(__file__).resolve().parents[2]


def curate(out: Path, *flags: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """`commons curate` in its own process, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "codecommons", "curate", SOURCE, "--out", str(out), "--workers", "2",
         "--no-progress", *flags],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT / "src"), **(env or {})},
        capture_output=True, text=True, timeout=900)


def output_bytes(out: Path) -> dict[str, bytes]:
    """What a run produced: the dataset, the exclusions, stats and card."""
    files = [*sorted((out / "data").glob("*.parquet")), *sorted((out / "excluded").glob("*.jsonl")),
             out / "stats.json", out / "README.md"]
    return {str(p.relative_to(out)): p.read_bytes() for p in files}


@pytest.fixture(scope="module")
def local_run(tmp_path_factory) -> dict[str, bytes]:
    out = tmp_path_factory.mktemp("local") / "out"
    r = curate(out)
    assert r.returncode == 0, r.stderr[-3000:]
    got = output_bytes(out)
    assert any(k.startswith("data/") for k in got) and b"pypi/idna" in b"".join(got.values())
    return got


@pytest.mark.cluster
def test_slurm_gives_the_local_bytes(local_run, tmp_path):
    try:
        cluster = slurm_cluster(tmp_path / "slurm")
        slurm = cluster.__enter__()
    except Unavailable as e:
        pytest.skip(f"no Slurm cluster: {e}")
    try:
        out = tmp_path / "out"
        r = curate(out, "--executor", "slurm", "--partition", slurm.partition,
                   "--time-limit", "0:20:00", "--mem-per-cpu-gb", "3", env=slurm.env)
        assert r.returncode == 0, r.stderr[-3000:]
        assert output_bytes(out) == local_run
        # it really ran as Slurm array tasks: the launch script and each task's log
        script = (out / "logs" / "filter" / "launch_script.slurm").read_text()
        assert f"#SBATCH --partition={slurm.partition}" in script and "#SBATCH --time=0:20:00" in script
        assert "#SBATCH --mem-per-cpu=3G" in script and "#SBATCH --array=0-1" in script
        logs = [p.stem.split("_") for p in (out / "logs" / "filter" / "slurm_logs").glob("*_*.out")]
        tasks: dict[str, set[str]] = {}
        for job, task in logs:
            tasks.setdefault(job, set()).add(task)
        assert {"0", "1"} in tasks.values()  # one array job, two tasks (and datatrove's stats merge)
    finally:
        cluster.__exit__(None, None, None)


@pytest.mark.cluster
def test_ray_gives_the_local_bytes(local_run, tmp_path):
    pytest.importorskip("ray", reason="Ray is not installed (pip install 'codecommons[cluster]')")
    try:
        cluster = ray_cluster(cpus=2)
        ray = cluster.__enter__()
    except Unavailable as e:
        pytest.skip(f"no Ray cluster: {e}")
    try:
        out = tmp_path / "out"
        r = curate(out, "--executor", "ray", "--ray-address", ray.address, "--mem-per-cpu-gb", "2")
        assert r.returncode == 0, r.stderr[-3000:]
        assert output_bytes(out) == local_run
        # ranks ran in Ray's worker processes, each logging to the stage's folder
        assert sorted(p.name for p in (out / "logs" / "filter" / "logs").iterdir()) == [
            "task_00000.log", "task_00001.log"]
        executor = json.loads((out / "logs" / "filter" / "executor.json").read_text())
        assert "ray_remote_kwargs" in executor and executor["time"] == 86400  # --time-limit 24:00:00
        assert (executor["cpus_per_task"], executor["mem_per_cpu_gb"]) == (1, 2)
    finally:
        cluster.__exit__(None, None, None)


def test_cluster_options_are_checked_early(tmp_path):
    with pytest.raises(ValueError, match="--time-limit"):
        ClusterConfig(time_limit="soon")
    with pytest.raises(ValueError, match="--cpus-per-task.*\n.*--mem-per-cpu-gb"):
        ClusterConfig(cpus_per_task=0, mem_per_cpu_gb=0)
    assert [time_limit_seconds(t) for t in ("90", "1:30", "2:00:00", "1-0", "1-2:03:04")] == [
        5400, 90, 7200, 86400, 93784]
    with pytest.raises(ValueError, match="--partition is required"):
        run([SOURCE], CurateConfig(out=str(tmp_path / "o"), executor="slurm"), cluster=ClusterConfig())
    assert not (tmp_path / "o").exists()  # refused before anything was written
    r = curate(tmp_path / "o2", "--executor", "ray", "--ray-address", "127.0.0.1:9")  # nothing there
    assert r.returncode == 1 and "ray start --head" in r.stderr
