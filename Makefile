# Two commands a newcomer needs: `make demo` and `make test`. Both set up .venv themselves.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(PYTHON) -m uv
STAMP := $(VENV)/.synced

.PHONY: setup demo test lint typecheck contracts pytest bench clean

$(STAMP): pyproject.toml uv.lock
	$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	$(UV) sync --frozen --extra test --extra resolvers --python $(PYTHON)
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/datalocality demo

lint: setup
	$(UV) lock --check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

contracts: setup
	$(BIN)/lint-imports

pytest: setup
	$(BIN)/pytest -q

test: lint typecheck contracts pytest

bench: setup
	$(BIN)/datalocality bench

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
