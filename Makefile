# evcms: `make run` starts a demo network, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: setup run test lint bench clean

VENDOR := src/evcms/web/static/vendor/uPlot.iife.min.js

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# the console's browser libraries, from the npm registry (never committed)
$(VENDOR): frontend/package.json frontend/package-lock.json
	scripts/vendor-frontend

setup: $(STAMP) $(VENDOR)

run: setup
	mkdir -p var
	$(BIN)/evcms db upgrade
	$(BIN)/evcms serve --demo

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports
	$(BIN)/mypy

test: setup lint
	scripts/ensure-system-packages
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python bench/load.py --target both --scenario meter --stations 200 --duration 20 --server-cpu 0

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
