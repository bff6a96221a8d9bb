# Two entry points: `make run` (install, then serve the app on :8008) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
ARGS ?=

.PHONY: run test bench chromium

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

run: $(VENV)/.installed
	$(VENV)/bin/fastlabel serve $(ARGS)

chromium:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -q && apt-get install -y -q chromium; }

test: $(VENV)/.installed chromium
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q -rs

bench: $(VENV)/.installed
	$(PY) benchmarks/train_and_score.py
