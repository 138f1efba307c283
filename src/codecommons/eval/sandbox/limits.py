"""Per-run resource limits of the sandbox, and the rlimits that carry them out.

Why each default has its value:
  - timeout_s=10 (wall clock, whole tree): benchmark tests run in well under a
    second; 10 s leaves room for a slow CI core, for javac/rustc compile steps,
    and bounds what an infinite loop costs (a sleep loop uses no CPU time, so
    this, not cpu_s, is what stops it).
  - cpu_s=10 (RLIMIT_CPU, SIGXCPU then SIGKILL a second later): a backstop that
    equals the wall clock; reported as "timeout".
  - memory_mb=1024 (RLIMIT_AS and RLIMIT_DATA): generous for test code (numpy
    included) while 2 workers on a 24 GiB machine stay far from the OOM killer.
    The JVM reserves gigabytes of address space it never touches and does not
    start under a 1 GiB RLIMIT_AS (pthread_create EAGAIN): for Java set
    address_space_mb=0 (no RLIMIT_AS; the multipl-e-java task does), which keeps
    memory_mb as the RLIMIT_DATA cap (it counts only writable private memory, so
    a Python bytearray(10**10) still fails). g++, rustc and node run under the
    default.
  - max_procs=64 (RLIMIT_NPROC, counts threads too): a JVM starts ~20-30
    threads, rustc ~16 plus the linker; a fork bomb cannot exceed 64.
  - file_size_mb=16 (RLIMIT_FSIZE): the largest file a test step writes is a
    debug rustc binary (a few MB); EFBIG stops a disk-fill at the first file.
  - disk_mb=64 (size of each tmpfs: scratch, /tmp, /dev/shm): many small files
    end with ENOSPC; tmpfs is RAM, so this also bounds the memory they take.
  - open_files=256 (RLIMIT_NOFILE): no test needs more; bounds fd exhaustion.
  - core dumps 0 (RLIMIT_CORE): a crash does not write a core file.
  - output_bytes=65536: stdout and stderr are drained to the end so the program
    never blocks on a full pipe, but only the first 64 KiB of stdout and the
    last 64 KiB of stderr are kept (enough for any test output and a traceback).
"""

from __future__ import annotations

import resource
from dataclasses import dataclass

MiB = 1024 * 1024


@dataclass(frozen=True)
class SandboxLimits:
    """Per-run limits; the module docstring says why each default is what it is."""

    timeout_s: float = 10.0
    cpu_s: int = 10
    memory_mb: int = 1024
    # RLIMIT_AS in MiB: None = memory_mb; 0 = no address-space limit (needed by the JVM).
    address_space_mb: int | None = None
    max_procs: int = 64
    file_size_mb: int = 16
    open_files: int = 256
    output_bytes: int = 65536
    disk_mb: int = 64

    def __post_init__(self) -> None:
        problems = []
        if not self.timeout_s > 0:
            problems.append(f"timeout_s must be > 0, got {self.timeout_s}")
        for name in ("cpu_s", "memory_mb", "max_procs", "file_size_mb", "open_files", "disk_mb"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.address_space_mb is not None and self.address_space_mb < 0:
            problems.append("address_space_mb must be None, 0 or more, "
                            f"got {self.address_space_mb}")
        if self.output_bytes < 0:
            problems.append(f"output_bytes must be >= 0, got {self.output_bytes}")
        if problems:
            raise ValueError("invalid sandbox limits: " + "; ".join(problems))


DEFAULT_LIMITS = SandboxLimits()


def rlimit_pairs(limits: SandboxLimits, nproc_extra: int = 0) -> list[tuple[int, int, int]]:
    """(resource, soft, hard), hard clamped to what we are allowed to set."""
    inf = resource.RLIM_INFINITY
    as_mb = limits.memory_mb if limits.address_space_mb is None else limits.address_space_mb
    wanted = [
        (resource.RLIMIT_CPU, limits.cpu_s, limits.cpu_s + 1),
        (resource.RLIMIT_AS, as_mb * MiB if as_mb else inf, as_mb * MiB if as_mb else inf),
        (resource.RLIMIT_DATA, limits.memory_mb * MiB, limits.memory_mb * MiB),
        (resource.RLIMIT_NPROC, limits.max_procs + nproc_extra, limits.max_procs + nproc_extra),
        (resource.RLIMIT_FSIZE, limits.file_size_mb * MiB, limits.file_size_mb * MiB),
        (resource.RLIMIT_NOFILE, limits.open_files, limits.open_files),
        (resource.RLIMIT_CORE, 0, 0),
    ]
    out = []
    for res, soft, hard in wanted:
        _, cur_hard = resource.getrlimit(res)
        if cur_hard != inf:
            hard = cur_hard if hard == inf else min(hard, cur_hard)
            soft = hard if soft == inf else min(soft, hard)
        out.append((res, soft, hard))
    return out


_PRLIMIT_NAMES = {
    resource.RLIMIT_CPU: "cpu",
    resource.RLIMIT_AS: "as",
    resource.RLIMIT_DATA: "data",
    resource.RLIMIT_NPROC: "nproc",
    resource.RLIMIT_FSIZE: "fsize",
    resource.RLIMIT_NOFILE: "nofile",
    resource.RLIMIT_CORE: "core",
}


def prlimit_argv(limits: SandboxLimits, nproc_extra: int = 0) -> list[str]:
    """util-linux `prlimit --cpu=S:H ... --` setting `limits` on the command after it."""
    def fmt(v: int) -> str:
        return "unlimited" if v == resource.RLIM_INFINITY else str(v)

    argv = ["prlimit"]
    for res, soft, hard in rlimit_pairs(limits, nproc_extra):
        argv.append(f"--{_PRLIMIT_NAMES[res]}={fmt(soft)}:{fmt(hard)}")
    return argv + ["--"]
