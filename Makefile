# `make test`: everything the test suite needs on a fresh Debian machine, then the suite,
# in a virtual environment of its own (.venv in the checkout, made if missing), so every
# dependency the tests use must be declared in pyproject.toml. pip's cache keeps reruns fast.
.PHONY: test test-fast serve system-packages

VENV ?= .venv
PY := $(VENV)/bin/python

# bubblewrap: the evaluation sandbox; ClamAV: the malware stage; Slurm and munge: the
# tests that run curation on a single-node Slurm cluster (tests/data/test_cluster.py).
system-packages:
	@command -v bwrap >/dev/null && command -v clamscan >/dev/null && command -v clamd >/dev/null \
		&& command -v slurmd >/dev/null && command -v munged >/dev/null || \
		(apt-get update -qq && apt-get install -y -qq bubblewrap clamav \
			clamav-daemon slurmctld slurmd slurm-client munge)

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

test: system-packages $(PY)
	$(PY) -m pip install -q -e ".[dev]"
	$(PY) -m pytest

# Skips the tests on the real 0.5B model and those that start clusters.
test-fast: $(PY)
	$(PY) -m pytest -m "not integration and not cluster"

serve:
	pip install -q -e ".[serve,model]"
	commons serve
