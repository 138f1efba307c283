# `make test`: everything the test suite needs on a fresh Debian machine, then the suite,
# in a virtual environment of its own (.venv in the checkout, made if missing), so every
# dependency the tests use must be declared in pyproject.toml. pip's cache keeps reruns fast.
.PHONY: test test-fast serve system-packages

VENV ?= .venv
PY := $(VENV)/bin/python

# What the suite needs from Debian, as COMMAND-or-/FILE:PACKAGE; only what is missing is
# installed, so toolchains already on PATH (node from NodeSource, rustc from rustup in
# ~/.cargo/bin, another JDK) are kept. bubblewrap: the evaluation sandbox; ClamAV: the
# malware stage; the MultiPL-E toolchains (eval/tasks/multipl_e.py): node, javac + java
# and javatuples (every MultiPL-E Java prompt imports org.javatuples), g++, rustc (links
# with cc), bash.
SYSTEM_NEEDS := bwrap:bubblewrap clamscan:clamav clamd:clamav-daemon \
	node:nodejs javac:default-jdk-headless java:default-jdk-headless \
	/usr/share/java/javatuples.jar:libjavatuples-java g++:g++ cc:gcc rustc:rustc bash:bash

system-packages:
	@missing=$$(for need in $(SYSTEM_NEEDS); do what=$${need%%:*}; pkg=$${need#*:}; \
		case $$what in /*) test -e "$$what" ;; *) command -v "$$what" >/dev/null ;; esac \
		|| echo $$pkg; done | sort -u | tr '\n' ' '); \
	if [ -n "$$missing" ]; then echo "installing: $$missing"; \
		apt-get update -qq && apt-get install -y -qq $$missing; fi

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

test: system-packages $(PY)
	$(PY) -m pip install -q -e ".[dev]"
	$(PY) -m pytest

# Skips the tests on the real 0.5B model.
test-fast: $(PY)
	$(PY) -m pytest -m "not integration"

serve:
	pip install -q -e ".[serve,model]"
	commons serve
