"""Real clusters on this machine, started and stopped by the caller: a single-node
Slurm cluster (munged, slurmctld and slurmd on localhost, Debian's slurm-wlm
packages: slurmctld slurmd slurm-client munge) and a Ray cluster (`ray start
--head`). Used by tests/data/test_cluster.py and bench/cluster.py.

Each context manager raises `Unavailable` (with the reason) when the cluster
cannot be started here, and stops exactly the processes it started. Everything
they write (keys, sockets, state, logs) stays in the folder they are given.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PARTITION = "commons"


class Unavailable(RuntimeError):
    """The cluster cannot be started on this machine; the message says why."""


@dataclass
class Slurm:
    conf: Path  # SLURM_CONF for sbatch, squeue, ...
    partition: str
    folder: Path

    @property
    def env(self) -> dict[str, str]:
        return {"SLURM_CONF": str(self.conf)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"({path} not written)"


def _wait(predicate, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise Unavailable(f"{what} within {timeout:.0f} s; {log}:\n{_tail(log)}")


def _kill_pidfile(pidfile: Path) -> None:
    with contextlib.suppress(OSError, ValueError):
        pid = int(pidfile.read_text().split()[0])
        os.kill(pid, signal.SIGTERM)
        for _ in range(40):
            os.kill(pid, 0)  # raises once it is gone
            time.sleep(0.25)
        os.kill(pid, signal.SIGKILL)


SLURM_CONF = """\
ClusterName=commons
SlurmctldHost={host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={dir}/munge.sock
SlurmctldPort={ctld_port}
SlurmdPort={d_port}
StateSaveLocation={dir}/state
SlurmdSpoolDir={dir}/spool
SlurmctldPidFile={dir}/slurmctld.pid
SlurmdPidFile={dir}/slurmd.pid
SlurmctldLogFile={dir}/slurmctld.log
SlurmdLogFile={dir}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MailProg=/bin/true
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory_mb} State=UNKNOWN
PartitionName={partition} Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""


@contextlib.contextmanager
def slurm_cluster(folder: Path, cpus: int = 2, memory_mb: int = 8000) -> Iterator[Slurm]:
    """munged + slurmctld + slurmd on localhost, one node of `cpus` CPUs, one
    partition; its own munge key and socket, ports, state and logs in `folder`."""
    missing = [b for b in ("munged", "slurmctld", "slurmd", "sbatch", "srun", "sinfo", "scontrol")
               if shutil.which(b) is None and not Path("/usr/sbin", b).exists()]
    if missing:
        raise Unavailable(f"Slurm is not installed ({', '.join(missing)} missing; Debian: "
                          f"apt-get install slurmctld slurmd slurm-client munge)")
    if os.geteuid() != 0:
        raise Unavailable("a private Slurm cluster needs root (slurmd runs jobs as their user)")
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o755)  # munged refuses group/world-writable folders above its socket
    for sub in ("state", "spool"):
        (folder / sub).mkdir(exist_ok=True)
    key = folder / "munge.key"
    key.write_bytes(secrets.token_bytes(1024))
    key.chmod(0o400)
    host = socket.gethostname().split(".")[0]
    conf = folder / "slurm.conf"
    conf.write_text(SLURM_CONF.format(host=host, dir=folder, ctld_port=_free_port(),
                                      d_port=_free_port(), cpus=cpus, memory_mb=memory_mb,
                                      partition=PARTITION))
    env = {**os.environ, "SLURM_CONF": str(conf)}
    sbin = lambda name: shutil.which(name) or f"/usr/sbin/{name}"  # noqa: E731
    try:
        subprocess.run([sbin("munged"), "--force", f"--socket={folder}/munge.sock",
                        f"--key-file={key}", f"--log-file={folder}/munged.log",
                        f"--pid-file={folder}/munged.pid", f"--seed-file={folder}/munged.seed"],
                       check=True, capture_output=True, timeout=30)
        subprocess.run([sbin("slurmctld"), "-f", str(conf)], env=env, check=True,
                       capture_output=True, timeout=30)
        subprocess.run([sbin("slurmd"), "-f", str(conf)], env=env, check=True,
                       capture_output=True, timeout=30)

        def idle() -> bool:
            out = subprocess.run(["sinfo", "-h", "-o", "%T"], env=env, capture_output=True, text=True)
            return out.returncode == 0 and out.stdout.strip() == "idle"

        _wait(idle, 60, "the Slurm node did not become idle", folder / "slurmctld.log")
        yield Slurm(conf, PARTITION, folder)
    except subprocess.CalledProcessError as e:
        raise Unavailable(f"{e.cmd[0]} did not start ({e.stderr.decode(errors='replace').strip()}); "
                          f"logs in {folder}") from e
    finally:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run(["scontrol", "shutdown"], env=env, capture_output=True, timeout=30)
        for pidfile in ("slurmd.pid", "slurmctld.pid", "munged.pid"):
            _kill_pidfile(folder / pidfile)


@dataclass
class Ray:
    address: str  # HOST:PORT of the head (GCS)
    cpus: int


@contextlib.contextmanager
def ray_cluster(cpus: int = 2, object_store_mb: int = 256) -> Iterator[Ray]:
    """`ray start --head --block` with `cpus` CPUs (that many tasks run at once),
    in its own temp folder; stopping that one process stops what it started
    (`ray stop` would stop every Ray cluster of this user on the machine)."""
    ray_cli = Path(sys.executable).parent / "ray"
    if not ray_cli.exists():
        raise Unavailable("Ray is not installed: pip install 'codecommons[cluster]'")
    port = _free_port()
    # short: Ray's unix sockets live under it and paths are limited to 107 bytes
    temp = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))
    log = temp / "start.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [str(ray_cli), "start", "--head", "--block", f"--port={port}", f"--num-cpus={cpus}",
             "--num-gpus=0", f"--object-store-memory={object_store_mb * 1024 * 1024}",
             "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp}"],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"})
    address = f"127.0.0.1:{port}"
    try:
        def up() -> bool:
            if proc.poll() is not None:
                raise Unavailable(f"ray start exited with {proc.returncode}:\n{_tail(log)}")
            return "Ray runtime started" in log.read_text(errors="replace")

        _wait(up, 120, "Ray did not start", log)
        yield Ray(address, cpus)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # --block: stops the processes it started
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # anything of its session left behind
        shutil.rmtree(temp, ignore_errors=True)
