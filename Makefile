# The two commands that matter: `make demo` (or `make tui`) and `make test`.
# Both create .venv from pyproject.toml on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: venv demo tui test lint bench deploy destroy clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/lamforest build demo-$$(date +%Y%m%d-%H%M%S) --data digits -t 200 -g 10

tui: $(STAMP)
	$(BIN)/lamforest-tui

test: $(STAMP)
	$(BIN)/ruff check core tui tests bench
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check core tui tests bench
	$(BIN)/ruff format --check core tui tests bench

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) build *.egg-info core/*.egg-info .pytest_cache
