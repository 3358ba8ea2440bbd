# The two README commands: `make demo` and `make test`. Both set up .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo stress-demo test install lint bench clean

$(STAMP): pyproject.toml fairaudit/metrics/_kernels.c
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# pyproject.toml allows torch>=2.4,<3; installing this CPU build first keeps pip from fetching another.
	$(PY) -m pip install --quiet "torch==2.13.0"
	# The distribution was renamed fairaudit-med: drop an older `fairaudit` from a reused .venv.
	$(PY) -m pip uninstall --quiet --yes fairaudit 2>/dev/null || true
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	bash scripts/demo.sh

# The stress audit of the shipped sample (a few minutes on 2 cores; docs/stress.md).
stress-demo: $(STAMP)
	bash scripts/stress_demo.sh

test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider

lint: $(STAMP)
	$(VENV)/bin/ruff check fairaudit tests benchmarks
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy fairaudit

bench: $(STAMP)
	$(PY) benchmarks/bench_metrics.py

clean:
	rm -rf $(VENV) reports build *.egg-info
