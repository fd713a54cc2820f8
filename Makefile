# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	# The CPU wheel of torch lies on disk; installing it first keeps pip from pulling a CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	# ray: the Ray backend's test starts a real local cluster (a 79 MB wheel, 240 MB installed)
	$(BIN)/pip install --quiet -e '.[dev,ray]'
	touch $(STAMP)

install: $(STAMP)

PACKAGES := $(wildcard pgcheck pgcheck_cli derivations agents)

test: $(STAMP)
	$(BIN)/ruff check $(PACKAGES) $(wildcard tests benchmarks)
	$(BIN)/mypy --strict $(PACKAGES) $(wildcard tests benchmarks)
	$(BIN)/python -m pytest
	@if [ -f proofs/README.md ]; then $(BIN)/pgcheck prove --check; fi

demo: $(STAMP)
	$(BIN)/pgcheck demo

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
