# Quick start: `make demo` runs the main job, `make test` runs every check CI runs.
# Both create .venv with python3 when it is missing and (re)install when pyproject.toml changes.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_DIR := demo-output
DEMO_PROJECT := Physical Education and Sports
DS := DISTILLSET_HOME="$(CURDIR)/$(DEMO_DIR)/home" $(BIN)/distillset

.PHONY: demo test lint typecheck pytest install install-dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamp files: installing again only when the project metadata changed.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

test: install-dev lint typecheck pytest

lint: install-dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: install-dev
	$(BIN)/mypy src

pytest: install-dev
	$(BIN)/pytest -q

# The main job, end to end on a fresh data directory under $(DEMO_DIR)/ (no network needed).
demo: install
	rm -rf "$(DEMO_DIR)"
	mkdir -p "$(DEMO_DIR)"
	$(DS) project create "$(DEMO_PROJECT)" --description "Demo of the distillset foundation"
	$(DS) model add teacher --preset deepseek --model deepseek-reasoner --temperature 0
	$(DS) project set "$(DEMO_PROJECT)" --question-model teacher --answer-model teacher \
		--max-concurrency 16
	printf '%s\n' '# Ball games' '- 1.1 Football' '  - Rules' '  - Tactics' '- 1.2 Tennis' \
		'# Athletics' '- Sprinting' '- Long-distance running' > "$(DEMO_DIR)/outline.md"
	$(DS) tags import "$(DEMO_PROJECT)" "$(DEMO_DIR)/outline.md"
	$(DS) tags add "$(DEMO_PROJECT)" --path "Athletics > Sprinting > Starting blocks"
	$(DS) tags rename "$(DEMO_PROJECT)" --path "Athletics > Long-distance running" --to "Endurance"
	$(DS) tags tree "$(DEMO_PROJECT)"
	$(DS) tags export "$(DEMO_PROJECT)" --format yaml -o "$(DEMO_DIR)/tree.yaml"
	$(DS) project list
	@echo "demo data in $(DEMO_DIR)/ (tree exported to $(DEMO_DIR)/tree.yaml)"

clean:
	rm -rf "$(DEMO_DIR)" .pytest_cache .mypy_cache .ruff_cache
