# Two commands on a fresh machine: `make demo` and `make test`. Both bootstrap .venv with the stock venv and pip.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench clean

$(BIN)/sluice: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(BIN)/sluice

demo: $(BIN)/sluice
	$(BIN)/sluice demo $(ARGS)

test: $(BIN)/sluice
	$(BIN)/ruff check scheduler console tests bench
	$(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

bench: $(BIN)/sluice
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info
