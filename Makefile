# Entry points, each from a fresh machine with only Python 3.11 and make:
#   make demo   installs anyloss with every backend and runs `anyloss demo`
#   make lint   installs the pinned ruff and mypy and checks formatting, lint rules and types
#   make test   installs the pinned test stack and runs the whole test suite, then make test-ms
#   make test-ms  installs MindSpore's test stack in a venv of its own (.venv-ms, NumPy 1.x)
#               and runs the torch comparison and the MindSpore tests on MindSpore tensors
#   make docs   installs the docs stack and builds the documentation (warnings are errors)
#   make package  builds the wheel and the sdist, checks their metadata, and runs the wheel in
#               a fresh venv with only its declared dependencies (under build/package)
#   make mindspore-table  measures MindSpore's own losses against torch for the docs
#   make bench  installs the benchmark stack and runs the benchmark suite (benchmarks/README.md)
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
JOBS ?= 2

.PHONY: demo lint package test test-ms mindspore-table docs bench install install-lint install-test install-ms install-docs install-bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[all]"

install-lint: $(BIN)/python
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[lint]"

install-test: $(BIN)/python
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test]"

# MindSpore is built against NumPy 1.x, so it has a venv of its own beside the main one.
VENV_MS ?= .venv-ms
BIN_MS = $(VENV_MS)/bin

$(BIN_MS)/python:
	$(PYTHON) -m venv $(VENV_MS)
	$(BIN_MS)/python -m pip install --quiet --upgrade pip

install-ms: $(BIN_MS)/python
	$(BIN_MS)/python -m pip install --quiet -c constraints-ms.txt -e . mindspore numpy ml_dtypes torch \
		pytest pytest-xdist hypothesis

install-docs: $(BIN)/python
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[docs]"

install-bench: $(BIN)/python
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[bench]"

demo: install
	$(BIN)/anyloss demo

lint: install-lint
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

# The run records its comparisons with torch for the docs' parity matrix (tests/support/parity.py).
PARITY_RECORD = $(CURDIR)/build/parity-record

test: install-test
	rm -rf $(PARITY_RECORD)
	ANYLOSS_PARITY_RECORD=$(PARITY_RECORD) $(BIN)/python -m pytest -n $(JOBS) -q --durations=15
	$(MAKE) test-ms

test-ms: install-ms
	$(BIN_MS)/python -m pytest --mindspore -n $(JOBS) -q tests/test_against_torch.py tests/test_mindspore.py

# Not part of CI: measures MindSpore's own losses and anyloss on MindSpore against torch over the
# case tables, into docs/scripts/mindspore_measured.json (the torch ↔ MindSpore page's record;
# a test of make test-ms checks that it is current).
mindspore-table: install-ms
	$(BIN_MS)/python docs/scripts/mindspore_table.py docs/scripts/mindspore_measured.json

# The wheel and the sdist (the wheel is built from the sdist, so the sdist must build), their
# metadata checked by twine, the sdist checked to hold its tests, then the wheel installed with
# only its declared dependencies (no extras) into a fresh venv, and used from there.
PKG = build/package
SDIST_HOLDS = LICENSE constraints.txt tests/conftest.py tests/support/oracle.py tests/cases/regression.py \
	docs/examples/accumulate_torch.py docs/parity.md benchmarks/cases.py

package: $(BIN)/python
	$(BIN)/python -m pip install --quiet -c constraints.txt build twine
	rm -rf $(PKG)
	$(BIN)/python -m build --quiet --outdir $(PKG)/dist .
	$(BIN)/python -m twine check --strict $(PKG)/dist/*
	tar -tzf $(PKG)/dist/anyloss-*.tar.gz > $(PKG)/sdist-files.txt
	for f in $(SDIST_HOLDS); do grep -q "^anyloss-[^/]*/$$f$$" $(PKG)/sdist-files.txt \
		|| { echo "the sdist lacks $$f"; exit 1; }; done
	$(BIN)/python -m venv $(PKG)/venv
	$(PKG)/venv/bin/python -m pip install --quiet -c constraints.txt $(PKG)/dist/anyloss-*.whl
	$(PKG)/venv/bin/python -m pip check
	cd $(PKG) && venv/bin/python -c "import anyloss, numpy as np; print(anyloss.mse_loss(np.ones(3), np.zeros(3)))"
	cd $(PKG) && venv/bin/python -c "import importlib.util as u, sys; \
		sys.exit(any(u.find_spec(m) for m in ('torch', 'jax', 'dask', 'array_api_strict')))"
	test "$$($(PKG)/venv/bin/anyloss --version)" = \
		"anyloss $$($(PKG)/venv/bin/python -c 'import importlib.metadata as m; print(m.version("anyloss"))')"
	$(PKG)/venv/bin/anyloss --version
	$(PKG)/venv/bin/anyloss list > /dev/null

# The HTML build, then every example on the pages run as a doctest; the generated pages
# (parity matrix, migration tables) are made once and shared by both builds.  The parity matrix
# reads the comparisons a `make test` of the same sources recorded, and makes only the others.
docs: install-docs
	ANYLOSS_PARITY_RECORD=$(PARITY_RECORD) $(BIN)/python docs/scripts/generate.py
	ANYLOSS_DOCS_KEEP=1 $(BIN)/sphinx-build -W --keep-going -q -b html docs docs/_build/html
	ANYLOSS_DOCS_KEEP=1 $(BIN)/sphinx-build -W --keep-going -q -b doctest docs docs/_build/doctest

# Not part of `make test`: about 11 to 15 minutes on 2 cores (benchmarks/README.md); BENCH_ARGS=--quick
# for a smoke run.
bench: install-bench
	$(BIN)/python -m benchmarks $(BENCH_ARGS)
	$(BIN)/python -m benchmarks.linear_cross_entropy --docs $(LCE_BENCH_ARGS)

clean:
	rm -rf $(VENV) $(VENV_MS) build src/*.egg-info docs/_build docs/_generated
