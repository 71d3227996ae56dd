# Two commands matter: `make demo` and `make test`. Both set up what they need.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
PYTEST_ARGS ?=

.PHONY: setup demo test lint typecheck imports test-sqlite test-postgres bench browsers clean

$(VENV)/.installed: pyproject.toml constraints.txt
	PYTHON=$(PYTHON) bash scripts/setup-python.sh
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Training data the English sentiment model needs, fetched from PyPI (not kept in git).
TEXT_DATA := src/cxloop/text/data/vader_ground_truth.tsv.gz
$(TEXT_DATA): scripts/fetch_text_data.py | $(VENV)/.installed
	$(BIN)/python scripts/fetch_text_data.py --force

setup: $(VENV)/.installed node_modules/.installed $(TEXT_DATA)
	bash scripts/setup-system.sh

browsers:
	bash scripts/setup-browser.sh

demo: setup
	$(BIN)/cxloop demo

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: setup
	$(BIN)/mypy

imports: setup
	$(BIN)/lint-imports

test-sqlite: setup browsers
	$(BIN)/pytest $(PYTEST_ARGS)

test-postgres: setup browsers
	CXLOOP_TEST_DATABASE_URL=$(PG_TEST_URL) $(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck imports test-sqlite test-postgres

bench: setup
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev,bench]'
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -qq wrk || sudo apt-get install -y -qq wrk; }
	$(BIN)/python bench/run.py
	$(BIN)/python bench/ingest.py --rate 500 --rate 100
	$(BIN)/python bench/respondent.py
	$(BIN)/python bench/contacts_import.py
	$(BIN)/python bench/analytics_bench.py
	$(BIN)/python bench/distribution_email.py
	$(BIN)/python bench/text_quality.py
	$(BIN)/python bench/distribution_trigger.py
	$(BIN)/python bench/dashboards_bench.py
	$(BIN)/python bench/alerts_rules_cost.py && $(BIN)/python bench/alerts_latency.py --database postgresql

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache
