# `make test`: everything the test suite needs on a fresh Debian machine, then the suite.
.PHONY: test test-fast serve

test:
	@command -v bwrap >/dev/null && command -v clamscan >/dev/null && command -v clamd >/dev/null || \
		(apt-get update -qq && apt-get install -y -qq bubblewrap clamav clamav-daemon)
	pip install -q -e ".[dev]"
	python -m pytest

# Skips the one test on the real 0.5B model.
test-fast:
	python -m pytest -m "not integration"

serve:
	pip install -q -e ".[serve,model]"
	commons serve
