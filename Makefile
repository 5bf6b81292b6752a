# The project's tasks. The README's two set-up commands are `make run` and `make test`;
# .ci/run calls `make test`, `make lint` and `make test-postgresql`.
#
# Dependencies are installed from the lock files (requirements.txt for running the portal,
# requirements-test.txt for the tests and the quality gates), which pip-tools writes from
# pyproject.toml with `make lock`.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
POSTGRESQL_TEST_URL ?= postgresql://postgres@127.0.0.1:5432/test

.PHONY: run install install-test test test-postgresql lint format bench lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

install: $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	$(BIN)/pip install -q --no-deps -e .

install-test: $(BIN)/python
	$(BIN)/pip install -q -r requirements-test.txt
	$(BIN)/pip install -q --no-deps -e .

## The portal on SQLite in instance/, with the demo data and its background work, at http://127.0.0.1:5000
run: install
	PORTAL_ENV=development $(BIN)/flask --app portal.app seed-demo
	PORTAL_ENV=development $(BIN)/flask --app portal.app serve

## The whole suite on SQLite, in parallel (browser tests skip with a reason without Chromium)
test: install-test
	$(BIN)/pytest

## The whole suite on PostgreSQL (each test worker in its own schema)
test-postgresql: install-test
	TEST_DATABASE_URL=$(POSTGRESQL_TEST_URL) $(BIN)/pytest

## The quality gates: lint, format, types and the layers contract
lint: install-test
	$(BIN)/ruff check portal tests
	$(BIN)/ruff format --check portal tests
	$(BIN)/mypy
	$(BIN)/lint-imports

format: install-test
	$(BIN)/ruff check --fix portal tests
	$(BIN)/ruff format portal tests

## List pages and exports against a large database (see README: Speed)
bench: install-test
	$(BIN)/python -m tests.benchmarks.bench_pages

## Write the lock files again from pyproject.toml (after changing a dependency)
lock: $(BIN)/python
	$(BIN)/pip install -q pip-tools
	$(BIN)/pip-compile -q --strip-extras --no-header --no-emit-index-url --no-emit-find-links -o requirements.txt pyproject.toml
	$(BIN)/pip-compile -q --strip-extras --no-header --no-emit-index-url --no-emit-find-links --extra test -o requirements-test.txt pyproject.toml

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
