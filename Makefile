# Two commands a newcomer needs: `make demo` and `make test`. Both set up .venv themselves.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(PYTHON) -m uv
STAMP := $(VENV)/.synced

.PHONY: setup demo test lint typecheck contracts pytest bench bench-e2e bench-ui clean cluster-binaries ui browser screenshots

$(STAMP): pyproject.toml uv.lock
	$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	$(UV) sync --frozen --extra test --extra resolvers --python $(PYTHON)
	touch $(STAMP)

setup: $(STAMP)

# The embedded emulator by default; `make demo CLUSTER=kube` runs it on the real control
# plane (built from Go modules on first use, about 5 minutes).
CLUSTER ?= sandbox
demo: setup
	$(if $(filter kube,$(CLUSTER)),bash tests/cluster/datalocality_testcluster/build-binaries.sh >/dev/null,)
	$(BIN)/datalocality-cluster demo --cluster $(CLUSTER)

lint: setup
	$(UV) lock --check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup ui
	$(BIN)/mypy
	cd datalocality/ui/frontend && npx --no-install tsc --noEmit

contracts: setup
	$(BIN)/lint-imports

# etcd, kube-apiserver, kube-scheduler, kube-controller-manager and kwok, built from Go
# modules into ~/.cache/datalocality (about 5 minutes the first time, then instant); the
# HDFS harness (a MiniDFSCluster from Maven Central, about 15 s the first time); and Argo
# Workflows' workflow-controller v3.7.18 with its CRDs, from its Go module (about 2 minutes
# the first time on 2 cores, then instant).
cluster-binaries:
	bash tests/cluster/datalocality_testcluster/build-binaries.sh
	bash tests/cluster/datalocality_testcluster/hdfs/build-hdfs.sh >/dev/null
	bash tests/cluster/datalocality_testcluster/argo/build-argo.sh >/dev/null

# The UI plugin's React bundle (TypeScript, Vite, from the npm registry), shipped in the
# wheel; rebuilt only when its sources change.
UI_BUNDLE := datalocality/ui/static/datalocality.js
UI_SOURCES := $(wildcard datalocality/ui/frontend/src/*) $(wildcard datalocality/ui/frontend/*.json) datalocality/ui/frontend/vite.config.ts
$(UI_BUNDLE): $(UI_SOURCES)
	bash datalocality/ui/frontend/build.sh

ui: $(UI_BUNDLE)

# Debian's chromium for the browser tests (Playwright drives it; it cannot download one).
browser:
	bash tests/cluster/datalocality_testcluster/install-chromium.sh

# README's pictures of the three views, from a real run in a real browser (not in CI).
screenshots: setup ui browser
	DATALOCALITY_SCREENSHOTS=$(CURDIR)/examples/screenshots $(BIN)/pytest -q -p no:cacheprovider tests/airflow/ui -k screenshot

pytest: setup cluster-binaries ui browser
	$(BIN)/pytest -q

test: lint typecheck contracts pytest

bench: setup
	$(BIN)/datalocality bench

# 100,000 files read by 100 replicas on the real control plane: the plan task's steps timed.
bench-e2e: setup cluster-binaries
	$(BIN)/python benchmarks/large_e2e.py 2>/dev/null

# The Placement tab in Debian's chromium, from 100 to 100,000 chunks: milliseconds to drawn.
bench-ui: setup ui browser
	$(BIN)/python benchmarks/ui_render.py 2>/dev/null

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
