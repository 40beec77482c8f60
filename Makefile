# The two commands a newcomer needs are `make demo` and `make test`; both install first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install browser postgresql demo dev serve test check lint typecheck suite fast bench clean

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

# Style, formatting, and the layering rules of docs/architecture.md (pyproject: importlinter).
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy

# The console's browser tests drive Debian's Chromium (Playwright's own download needs the
# internet): installed from the distribution when missing, which takes root.
CHROMIUM ?= /usr/bin/chromium
browser:
	@test -x $(CHROMIUM) || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "the browser tests need $(CHROMIUM): sudo apt-get install chromium" >&2; exit 1; \
	  fi; }

# The replicas' test (tests/test_replicas.py) starts Debian's PostgreSQL as a server of its own
# beside the embedded one: installed from the distribution when missing, which takes root. No
# main cluster is created (nothing listens on 5432): the test makes its own in a temporary
# directory.
POSTGRES_INITDB = /usr/lib/postgresql/*/bin/initdb
postgresql:
	@ls $(POSTGRES_INITDB) >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    mkdir -p /etc/postgresql-common/createcluster.d && \
	    echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.d/no-main-cluster.conf && \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	  else \
	    echo "the replicas' test needs Debian's PostgreSQL: sudo apt-get install postgresql" >&2; exit 1; \
	  fi; }

# The whole pytest suite, against a real Postgres, the vendor sandbox and a Dagster instance.
suite: install browser postgresql
	$(BIN)/pytest

# The tests that need no server (pure rules, parsing, models): seconds, for the inner loop.
fast: install
	$(BIN)/pytest -m "not stack"

# What CI runs: everything.
test: lint typecheck suite

# The inner loop: lint, types and the tests that need no stack.
check: lint typecheck fast

bench: install
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/connectors.py
	$(BIN)/python bench/reconcile.py
	$(BIN)/python bench/replay.py
	$(BIN)/python bench/pipeline.py
	$(BIN)/python bench/analytics.py
	$(BIN)/python bench/console.py
	$(BIN)/python bench/metrics.py

clean:
	rm -rf $(VENV) .orchestrator .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
