# Every install step lives here: a fresh Debian/Ubuntu machine with Python 3.11 needs nothing else.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
# The demo's secret key, made once and kept in var/ (production refuses to start without SECRET_KEY).
export SECRET_KEY ?= $(shell bin/demo-secret-key)
# The demo and the suite start well over a hundred Python processes that import the same modules. With
# bytecode caching off (PYTHONDONTWRITEBYTECODE, set on some machines) each would compile this
# repository's modules again, about half a second of CPU a process; pytest's rewritten tests likewise.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: install browser models demo test test-fast test-faults reliability bench lint clean

install: $(STAMP) $(NODE_STAMP)

# torch first and alone, so no resolver ever pulls a CUDA build of it.
$(STAMP): requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet torch==2.13.0
	$(VENV)/bin/pip install --quiet -r requirements.lock
	touch $(STAMP)

# anvil, the local chain, comes from npm (@foundry-rs/anvil ships the binary).
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $(NODE_STAMP)

models: install
	mkdir -p var
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput -v0
	$(PY) manage.py build_tiny_models

demo: models
	bin/demo

# The browser tests drive Debian's Chromium through Playwright (Playwright's own
# browser download needs the internet). Installed as root, or through sudo.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium; }

# Two test processes (pytest-xdist): a test file at a time, and every file in tests/browser/
# as one unit on one process (tests/conftest.py's scheduler). One process: `$(PY) -m pytest`.
XDIST := -n 2 --dist loadscope --no-loadscope-reorder

# The 30 slowest tests are listed at the end: where the suite's time goes.
test: install browser
	$(PY) -m pytest $(XDIST) --durations=30

# Every test that starts no process (tests/conftest.py marks the others `integration`).
test-fast: install
	$(PY) -m pytest $(XDIST) -m "not integration"

# The fault suite (tests/faults): kill -9 each part of a real network mid-job, restart it, check the books.
# Minutes long, so `make test` leaves it out (pyproject.toml addopts: -m "not faults"); FAULTS_ROUNDS=3 repeats each fault.
test-faults: install
	$(PY) -m pytest -m faults tests/faults
	$(PY) -m bench.faults_report --results var/faults/results.json

# docs/reliability.md's table, rewritten from a fresh run of the fault suite.
reliability: test-faults
	$(PY) -m bench.faults_report --results var/faults/results.json --output docs/reliability.md

bench: models
	$(PY) -m bench.runners --output docs/benchmarks/runners.md
	$(PY) -m bench.cost --output docs/benchmarks/cost.md
	$(PY) -m bench.scheduling --output docs/benchmarks/scheduling.md
	$(PY) -m bench.engine_load --engine run_engine --output docs/benchmarks/engine.md
	$(PY) -m bench.payments --output docs/benchmarks/payments.md
	$(PY) -m bench.dashboard --output docs/benchmarks/dashboard.md

# ruff, then mypy (django-stubs) over the product packages.
lint: install
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check . && $(VENV)/bin/mypy

clean:
	rm -rf $(VENV) var
