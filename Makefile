# The two commands of the README: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PG_URL ?= postgres://postgres@127.0.0.1:5432/arrears

.PHONY: demo test lint typecheck test-sqlite test-postgres clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

demo: $(VENV)/.installed
	$(BIN)/arrears demo

lint: $(VENV)/.installed
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(VENV)/.installed
	$(BIN)/mypy

test-sqlite: $(VENV)/.installed
	env -u DATABASE_URL $(BIN)/pytest -n 2 -q

# pytest-django creates and drops its own throwaway test_* database.
test-postgres: $(VENV)/.installed
	DATABASE_URL=$(PG_URL) $(BIN)/pytest -n 2 -q

test: lint typecheck test-sqlite test-postgres

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache .hypothesis
