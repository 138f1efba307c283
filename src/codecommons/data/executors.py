"""Where `commons curate` runs its per-rank stages: processes on this machine, a
Slurm cluster or a Ray cluster (datatrove's executors), with the same output
bytes on each (tests/data/test_cluster.py, bench/cluster.py).

    commons curate python-env --out runs/stack --workers 8                       # local
    commons curate python-env --out /shared/stack --workers 64 --executor slurm \\
        --partition cpu --time-limit 4:00:00 --mem-per-cpu-gb 4                   # sbatch arrays
    ray start --head && commons curate python-env --out /shared/stack --workers 64 --executor ray

Slurm: each stage is one job array of `--workers` tasks, submitted with `sbatch
--wait` so the driver continues (dedup decisions, the final stage) when the array
has finished; tasks run `launch_pickled_pipeline` from the driver's Python
environment (its bin folder is put first on PATH), so the cluster runs the code
the driver runs. Ray: the driver connects to a running cluster (`--ray-address`,
default `auto`: the one `ray start` made on this machine) and ships this package
with the job (`py_modules`). Either way --out must be on a filesystem every node
sees, and the cluster must be able to read the sources (python-env is the
environment the workers run in).

A rank that did not finish (a failed array task, a Ray task out of retries) is an
error naming the stage's logs: datatrove's Ray executor only logs a warning.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from codecommons.config import field

EXECUTORS = ("local", "slurm", "ray")
# Slurm's --time formats: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S (sbatch(1)).
_SLURM_TIME = re.compile(r"^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$")


class ClusterError(RuntimeError):
    """A stage did not complete on the cluster; the message names its logs."""


@dataclass
class ClusterConfig:
    partition: str = field("", "Slurm partition (required with --executor slurm; `sinfo` lists them)")
    time_limit: str = field("24:00:00", "time limit per task, Slurm's [D-]HH:MM:SS "
                                        "(slurm: --time; ray: the task is cancelled past it)")
    cpus_per_task: int = field(1, "CPUs reserved per rank (slurm, ray)")
    # ScanCode's licence index alone takes ~1.4 GB in every rank's process.
    mem_per_cpu_gb: int = field(4, "memory reserved per CPU in GB (slurm, ray)")
    ray_address: str = field("auto", "Ray cluster to join: auto (the one on this machine) or HOST:PORT")

    def __post_init__(self) -> None:
        problems = []
        if time_limit_seconds(self.time_limit) is None:
            problems.append(f"--time-limit must be Slurm's [D-]HH:MM:SS (or M, M:S, D-H, D-H:M), "
                            f"got {self.time_limit!r}")
        if self.cpus_per_task < 1:
            problems.append(f"--cpus-per-task must be >= 1, got {self.cpus_per_task}")
        if self.mem_per_cpu_gb < 1:
            problems.append(f"--mem-per-cpu-gb must be >= 1, got {self.mem_per_cpu_gb}")
        if problems:
            raise ValueError("\n".join(problems))


def time_limit_seconds(value: str) -> int | None:
    """Seconds in a Slurm time limit, or None when it is not one."""
    m = _SLURM_TIME.match(value.strip())
    if not m or value.strip() in ("0", ""):
        return None
    days, a, b, c = (int(g) if g else None for g in m.groups())
    if days is not None:  # D-H, D-H:M, D-H:M:S
        h, mi, s = a, b or 0, c or 0
        return ((days * 24 + h) * 60 + mi) * 60 + s
    if b is None:  # M
        return a * 60
    if c is None:  # M:S
        return a * 60 + b
    return (a * 60 + b) * 60 + c  # H:M:S


def check(executor: str, cluster: ClusterConfig) -> None:
    """Fail before any work starts when the chosen executor cannot run here."""
    if executor == "slurm":
        if not cluster.partition:
            raise ValueError("--partition is required with --executor slurm (`sinfo` lists them)")
        if shutil.which("sbatch") is None:
            raise ValueError("--executor slurm needs Slurm's sbatch on PATH (Debian: slurm-client)")
    elif executor == "ray":
        try:
            import ray  # noqa: F401
        except ImportError as e:
            raise ValueError("--executor ray needs Ray: pip install 'codecommons[cluster]'") from e


def make_executor(pipeline: list, executor: str, workers: int, logs: Path,
                  cluster: ClusterConfig | None = None, name: str = "curate"):
    """A datatrove executor running `pipeline` as `workers` ranks, logging to `logs`."""
    cluster = cluster or ClusterConfig()
    if executor == "local":
        from datatrove.executor import LocalPipelineExecutor

        # fork, not datatrove's default forkserver: forked workers inherit the ScanCode
        # licence index the driver loaded (pipeline._warm_license_index), where
        # forkserver workers each load it again (~6-10 s per rank).
        return LocalPipelineExecutor(pipeline, tasks=workers, workers=workers, logging_dir=str(logs),
                                     skip_completed=True, start_method="fork")
    if executor == "slurm":
        from datatrove.executor import SlurmPipelineExecutor

        return SlurmPipelineExecutor(
            pipeline, tasks=workers, time=cluster.time_limit, partition=cluster.partition,
            cpus_per_task=cluster.cpus_per_task, mem_per_cpu_gb=cluster.mem_per_cpu_gb,
            logging_dir=str(logs), job_name=name, skip_completed=True,
            # the job's tasks run the driver's environment's launch_pickled_pipeline
            env_command=f'export PATH="{Path(sys.executable).parent}:$PATH"',
            # the driver waits for the array (and datatrove's stats-merging job) to end
            sbatch_args={"wait": ""}, qos=None)
    if executor == "ray":
        from datatrove.executor import RayPipelineExecutor

        _join_ray(cluster.ray_address)
        return RayPipelineExecutor(
            pipeline, tasks=workers, workers=workers, logging_dir=str(logs),
            cpus_per_task=cluster.cpus_per_task, mem_per_cpu_gb=cluster.mem_per_cpu_gb,
            time=time_limit_seconds(cluster.time_limit))
    raise ValueError(f"unknown executor {executor!r}; choose one of {', '.join(EXECUTORS)}")


def _join_ray(address: str) -> None:
    import ray

    import codecommons

    if ray.is_initialized():
        return
    if address not in ("auto", "local") and not _reachable(address):
        # ray.init retries a dead address for minutes: fail at once instead
        raise ClusterError(f"no Ray cluster answers at {address!r}; start one with `ray start --head` "
                           f"or pass the head's --ray-address HOST:PORT")
    try:
        # the package travels with the job, so every worker runs the driver's code
        ray.init(address=address, runtime_env={"py_modules": [str(Path(codecommons.__file__).parent)]},
                 log_to_driver=False)
    except ConnectionError as e:
        raise ClusterError(f"no Ray cluster at {address!r} ({e}); start one with `ray start --head` "
                           f"or pass --ray-address HOST:PORT") from e


def _reachable(address: str, timeout: float = 5.0) -> bool:
    """Whether something listens at a Ray address (HOST:PORT, optionally ray://)."""
    import socket

    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


def run_stage(executor, stage: str, logs: Path) -> None:
    """Run an executor to the end; ClusterError when a rank did not complete."""
    try:
        executor.run()
    except subprocess.CalledProcessError as e:  # sbatch --wait: the array failed
        raise ClusterError(f"stage {stage}: the Slurm job failed ({e}); its task logs are in "
                           f"{logs / 'slurm_logs'}") from e
    incomplete = executor.get_incomplete_ranks(range(executor.world_size))
    if incomplete:
        raise ClusterError(f"stage {stage}: ranks {incomplete} did not complete; see {logs / 'logs'}"
                           f" and run again with --resume")
