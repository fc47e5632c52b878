# Two commands on a fresh machine with Python 3.11+: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run test lint bench clean

# `make run` installs what the forum needs; `make test` adds the test and lint tools.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $(STAMP)

$(DEV_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(DEV_STAMP)

run: $(STAMP)
	$(BIN)/forum migrate
	$(BIN)/forum demo
	$(BIN)/forum serve

# Two workers, one per core: each has its own databases, servers, ports and browser.
test: $(DEV_STAMP)
	$(BIN)/python -m pytest -n 2 --durations=15

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy forum realtime tests bench

bench: $(DEV_STAMP)
	$(BIN)/python bench/pages.py

clean:
	rm -rf $(VENV) forum.db forum.db-wal forum.db-shm
