# Quick start: `make demo` then `make test`. Both create .venv and install the kit if needed.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: demo test test-newest test-lowest test-airflow lab bench install clean lint docs

install: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(PIP) install --upgrade pip
	$(PIP) install -e '.[dev]'
	@# pip compiles what it installs into site-packages, not an editable install's own modules, and where
	@# PYTHONDONTWRITEBYTECODE is set (this machine sets it) nothing is compiled later: every run would compile the
	@# kit again, and pytest would assertion-rewrite every test module and every plugin's modules (~3 s a worker).
	@# Compiled once here.
	$(BIN)/python -m compileall -q neptune_audit benchmarks tests
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest --collect-only -q -n 0 -p no:cacheprovider >/dev/null
	@touch $@

demo: $(STAMP)
	$(BIN)/neptune-audit demo

# The quick tests on every core (pytest-xdist), then those that start kernels, servers and browsers, two at a time,
# a file per worker (a file's tests share their servers).
test: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"
	@# one line per test as it ends: a browser test can take minutes, and nothing should look stuck
	$(BIN)/python -m pytest -m slow -n 2 --dist loadfile -v

# The quick tests at the newest boto3/botocore on PyPI, in a virtualenv of their own (.venv is left as it is, for lint
# and docs), which must still be within aws/tuning's TESTED_BOTOCORE (a test fails otherwise: the speed-ups would be
# off for every user of that botocore).
NEWEST_VENV := .venv-newest
test-newest: $(STAMP)
	$(PYTHON) -m venv $(NEWEST_VENV)
	$(NEWEST_VENV)/bin/python -m pip --disable-pip-version-check -q install -e '.[test,demo]'
	$(NEWEST_VENV)/bin/python -m pip --disable-pip-version-check -q install --upgrade boto3 botocore
	NEPTUNE_AUDIT_REQUIRE_TUNING=1 $(NEWEST_VENV)/bin/python -m pytest -p no:cacheprovider -m "not slow"

# The quick suite, and the slow tests whose outcome depends on the versions installed (marked floor: kernels,
# browsers, signing, packaging), at the lowest versions pyproject.toml allows (.ci/constraints-lowest.txt: every
# direct dependency at its floor), in a virtualenv of its own.
LOWEST_VENV := .venv-lowest
$(LOWEST_VENV)/.installed-stamp: pyproject.toml .ci/constraints-lowest.txt
	$(PYTHON) -m venv $(LOWEST_VENV)
	$(LOWEST_VENV)/bin/python -m pip --disable-pip-version-check -q install -c .ci/constraints-lowest.txt -e '.[test,demo,lab]'
	@touch $@

test-lowest: $(LOWEST_VENV)/.installed-stamp
	$(LOWEST_VENV)/bin/python -m pytest -p no:cacheprovider -m "not slow"
	$(LOWEST_VENV)/bin/python -m pytest -p no:cacheprovider -m "slow and floor" -n 2 --dist loadfile -v

# The Airflow DAG (examples/airflow), run once end to end by Airflow in its own virtualenv (never the kit's).
AIRFLOW_VENV := .venv-airflow
$(AIRFLOW_VENV)/.installed-stamp: examples/airflow/requirements.txt
	$(PYTHON) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_VENV)/bin/python -m pip --disable-pip-version-check -q install -r examples/airflow/requirements.txt
	@touch $@

test-airflow: $(STAMP) $(AIRFLOW_VENV)/.installed-stamp
	NEPTUNE_AUDIT_AIRFLOW=$(CURDIR)/$(AIRFLOW_VENV)/bin/airflow $(BIN)/python -m pytest -p no:cacheprovider -n 0 tests/airflow/test_dag.py

# ruff (pyproject's [tool.ruff]) and mypy on the package (pyproject's [tool.mypy]); CI runs both.
lint: $(STAMP)
	$(BIN)/ruff check neptune_audit tests benchmarks
	$(BIN)/python -m mypy

# The documentation site (mkdocs.yml, docs/), built offline into site/ with --strict: a broken link, a missing
# docstring parameter or a page that fails to generate fails the build. About 30 s (it runs the demo).
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

lab: $(STAMP)
	$(BIN)/neptune-audit demo --lab

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) $(AIRFLOW_VENV) $(LOWEST_VENV) $(NEWEST_VENV) reports .pytest_cache
