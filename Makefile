# Quick start: `make demo` then `make test`. Both create .venv and install the kit if needed.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: demo test test-airflow lab bench install clean

install: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(PIP) install --upgrade pip
	$(PIP) install -e '.[dev]'
	@touch $@

demo: $(STAMP)
	$(BIN)/neptune-audit demo

test: $(STAMP)
	$(BIN)/python -m pytest

# The Airflow DAG (examples/airflow), run once end to end by Airflow in its own virtualenv (never the kit's).
AIRFLOW_VENV := .venv-airflow
$(AIRFLOW_VENV)/.installed-stamp: examples/airflow/requirements.txt
	$(PYTHON) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_VENV)/bin/python -m pip --disable-pip-version-check -q install -r examples/airflow/requirements.txt
	@touch $@

test-airflow: $(STAMP) $(AIRFLOW_VENV)/.installed-stamp
	NEPTUNE_AUDIT_AIRFLOW=$(CURDIR)/$(AIRFLOW_VENV)/bin/airflow $(BIN)/python -m pytest -p no:cacheprovider examples/airflow/test_dag.py

lab: $(STAMP)
	$(BIN)/neptune-audit demo --lab

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) $(AIRFLOW_VENV) reports .pytest_cache
