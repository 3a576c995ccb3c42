# One file drives everything a newcomer needs: `make demo`, `make test`, `make bench`, `make lint`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP_FLAGS ?= --quiet --disable-pip-version-check

.PHONY: demo test bench profile lint typecheck check schema clean

# A stamp per extra: re-runs install (which also rebuilds the C extension) when the build inputs change.
$(VENV)/.stamp-%: pyproject.toml setup.py src/meterlocal/extract/_native.pyx
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "meterlocal needs Python 3.11 or newer; set PYTHON=python3.11")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install $(PIP_FLAGS) -e ".[$*]"
	@touch $@

demo: $(VENV)/.stamp-cli  ## scrape the bundled pages (served on 127.0.0.1) into ./meterlocal.db, twice, and show the history
	$(PY) -m meterlocal demo --db meterlocal.db

test: $(VENV)/.stamp-test  ## the whole suite
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.stamp-bench  ## benchmarks against peers; writes benchmarks/results/*.md
	$(PY) -m benchmarks $(BENCH_ARGS)

profile: $(VENV)/.stamp-bench  ## flame graph of 2,080 whole jobs (every thread) -> benchmarks/results/profile-e2e.svg
	$(VENV)/bin/py-spy record --rate 250 --output benchmarks/results/profile-e2e.svg -- $(PY) -m benchmarks.profile

lint: $(VENV)/.stamp-test
	$(PY) -m ruff check src tests benchmarks setup.py
	$(PY) -m ruff format --check src tests benchmarks setup.py

typecheck: $(VENV)/.stamp-test
	$(PY) -m mypy

check: lint typecheck test

schema: $(VENV)/.stamp-test  ## rewrite schemas/strategy.schema.json from the strategy document models
	$(PY) -c 'import json, meterlocal; print(json.dumps(meterlocal.strategy_json_schema(), indent=2, ensure_ascii=False))' > schemas/strategy.schema.json

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache meterlocal.db meterlocal.db-wal meterlocal.db-shm
