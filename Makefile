# The two commands a newcomer needs are `make demo` and `make test`; both install first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo dev serve test lint typecheck unit bench clean

install: $(STAMP)

# Re-runs only when the project or the lock changes; otherwise a no-op.
$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[dev]'
	@touch $(STAMP)

demo: install
	$(BIN)/orchestrator demo

dev: install
	$(BIN)/orchestrator dev

serve: install
	$(BIN)/orchestrator serve

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/pytest

test: lint typecheck unit

bench: install
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/connectors.py
	$(BIN)/python bench/pipeline.py

clean:
	rm -rf $(VENV) .orchestrator .pytest_cache .mypy_cache .ruff_cache
