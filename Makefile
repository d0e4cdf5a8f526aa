# Padu: two commands on a fresh machine with Python 3.11 and make.
#   make run    the nightly job on demo data (or on $PADU_LANDING_DIR / $PADU_DATA_DIR when set)
#   make test   the test suite
#   make bench  the nightly job at 1,000,000 persons against bare Splink (benchmarks/nightly.py);
#               make bench ARGS="--sizes 100000,300000,1000000" for a scaling table
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
DATA := $(or $(PADU_DATA_DIR),data)
LANDING := $(or $(PADU_LANDING_DIR),data/landing)
DEMO_PERSONS ?= 10000
STAMP := $(VENV)/.installed

.PHONY: run test ui demo-data bench clean install

$(PY):
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "needs $(PYTHON) on PATH (or: make PYTHON=python3)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(PY) pyproject.toml requirements.lock
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c requirements.lock -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

# Demo deliveries only for the embedded default: never when a landing folder is configured.
demo-data: install
	@if [ -z "$$PADU_LANDING_DIR" ] && [ -z "$$(ls -A $(LANDING) 2>/dev/null)" ]; then \
		$(PY) -m synthetic --landing $(LANDING) --persons $(DEMO_PERSONS); \
	fi

run: demo-data
	$(PY) -m pipelines.run_nightly

test: install
	$(PY) -m pytest

bench: install
	$(PY) -m benchmarks.nightly $(ARGS)

ui: install
	DAGSTER_HOME=$$($(PY) -m pipelines.instance) $(VENV)/bin/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

clean:
	rm -rf $(VENV) data
