# Kyōdō (協働) — the two commands a newcomer needs are `make up` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install up test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

## Run the whole platform on the embedded default (SQLite files, embedded redis-server).
up: $(STAMP)
	$(BIN)/kyodo up

## Run the test suite (PostgreSQL and Redis tests skip with a reason when those servers are absent).
test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check shared services tests benchmarks
	$(BIN)/ruff format --check shared services tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

## Print the throughput and latency figures (a command, not a test).
bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
