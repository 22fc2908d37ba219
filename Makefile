# Two entry points, both from a fresh machine with only Python 3.11 and make:
#   make demo   installs anyloss with every backend and runs `anyloss demo`
#   make test   installs the pinned test stack and runs the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
JOBS ?= 2

.PHONY: demo test install install-test clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[all]"

install-test: $(BIN)/python
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test]"

demo: install
	$(BIN)/anyloss demo

test: install-test
	$(BIN)/python -m pytest -n $(JOBS) -q

clean:
	rm -rf $(VENV) build src/*.egg-info
