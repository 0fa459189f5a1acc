# Every target sets up its own virtual environment: a fresh machine needs only Python 3.10+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# single-threaded BLAS, so benchmarks and tests are repeatable on 2 cores
export OMP_NUM_THREADS := 1
export OPENBLAS_NUM_THREADS := 1
export MKL_NUM_THREADS := 1

.PHONY: demo test lint format bench bench-peers notebooks clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/graphcomp grad "exp(x*z) + x*z/log(x) + sin(log(x))/(x*z)" --wrt x,z --at x=2,z=3 --sympy --svg seed_example.svg
	$(BIN)/graphcomp train --model mlp

test: $(STAMP)
	$(BIN)/python -m pytest -n 2

lint: $(STAMP)
	$(BIN)/ruff check graphcomp tests bench
	$(BIN)/ruff format --check graphcomp tests bench

format: $(STAMP)
	$(BIN)/ruff check --fix graphcomp tests bench
	$(BIN)/ruff format graphcomp tests bench

notebooks: $(STAMP)
	$(BIN)/python -m pip install --quiet jupyterlab
	$(BIN)/jupyter lab notebooks

bench: $(STAMP)
	$(BIN)/python bench/run.py

# the same, with the peers' rows: installs PyTorch, JAX, PyTensor and Numba into the venv first
bench-peers: $(STAMP)
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build *.egg-info
