"""SandboxLimits are checked when made, and turn into the rlimits a run gets.

    python -m pytest tests/eval/sandbox/test_limits.py -q
"""

from __future__ import annotations

import resource

import pytest

from codecommons.eval.sandbox import SandboxLimits
from codecommons.eval.sandbox.limits import MiB, prlimit_argv, rlimit_pairs


def test_bad_limits_are_refused_all_at_once():
    with pytest.raises(ValueError) as err:
        SandboxLimits(timeout_s=0, memory_mb=0, address_space_mb=-1)
    message = str(err.value)
    for part in ("timeout_s must be > 0", "memory_mb must be >= 1", "address_space_mb"):
        assert part in message, message


def test_rlimits_follow_the_limits():
    pairs = {res: (soft, hard) for res, soft, hard in
             rlimit_pairs(SandboxLimits(cpu_s=3, memory_mb=100, max_procs=7), nproc_extra=2)}
    assert pairs[resource.RLIMIT_CPU] == (3, 4)  # SIGXCPU, then SIGKILL a second later
    assert pairs[resource.RLIMIT_AS] == pairs[resource.RLIMIT_DATA] == (100 * MiB, 100 * MiB)
    assert pairs[resource.RLIMIT_NPROC] == (9, 9)
    assert pairs[resource.RLIMIT_CORE] == (0, 0)


def test_no_address_space_cap_for_the_jvm():
    host_hard = resource.getrlimit(resource.RLIMIT_AS)[1]  # what we may set at most
    pairs = {res: (soft, hard) for res, soft, hard in
             rlimit_pairs(SandboxLimits(memory_mb=100, address_space_mb=0))}
    assert pairs[resource.RLIMIT_AS] == (host_hard, host_hard)
    assert pairs[resource.RLIMIT_DATA] == (100 * MiB, 100 * MiB)  # memory is still capped
    if host_hard == resource.RLIM_INFINITY:
        assert "--as=unlimited:unlimited" in prlimit_argv(SandboxLimits(address_space_mb=0))
