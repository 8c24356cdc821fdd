# Quick start: `make demo` runs the main job, `make test` runs every check CI runs
# (its PostgreSQL tests need the server on 127.0.0.1:5432 that .ci/run starts).
# Both create .venv with python3 when it is missing and (re)install when pyproject.toml changes.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_DIR := demo-output
DEMO_PROJECT := Physical Education and Sports
DS := DISTILLSET_HOME="$(CURDIR)/$(DEMO_DIR)/home" $(BIN)/distillset

.PHONY: demo test lint imports typecheck pytest install install-dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Stamp files: installing again only when the project metadata changed.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

# torch first, pinned to the CPU wheel: the quality and train extras' plain torch requirement would
# otherwise pull a CUDA build of several GB.
$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev,hf,postgres,realserver,quality,train]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

test: install-dev lint imports typecheck pytest

lint: install-dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

# The package layers (pyproject.toml's [tool.importlinter]): no upward import, no cycle.
imports: install-dev
	$(BIN)/lint-imports

typecheck: install-dev
	$(BIN)/mypy src

pytest: install-dev
	$(BIN)/pytest -q

# The main job: an automatic distillation with a simulated teacher, exported to JSONL
# under $(DEMO_DIR)/ (no network, no key needed).
demo: install
	rm -rf "$(DEMO_DIR)"
	mkdir -p "$(DEMO_DIR)"
	$(DS) demo --output "$(DEMO_DIR)"

clean:
	rm -rf "$(DEMO_DIR)" .pytest_cache .mypy_cache .ruff_cache
