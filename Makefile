# Set-up in one command, in a virtual environment of the project's own (.venv), so it works
# where the system pip refuses to install (PEP 668). Each target creates .venv when missing and
# reinstalls only when pyproject.toml changed.
#
#   make demo    install, then run `rotabot demo` (no network, no config, no token)
#   make test    install with the dev extra, then run the test suite on two workers
#   make lint    ruff, mypy and the import-layer contract (as CI runs them)

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?= -q -n 2

.PHONY: demo test lint clean

demo: $(VENV)/.installed
	$(BIN)/rotabot demo

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
	  echo "rotabot needs Python 3.11 or newer; $(PYTHON) is older (try: make PYTHON=python3.12)" >&2; \
	  exit 1; }
	@$(PYTHON) -m venv $(VENV) || { \
	  echo "could not create $(VENV): install Python's venv module (Debian, Ubuntu: apt install python3-venv)" >&2; \
	  rm -rf $(VENV); exit 1; }

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	@touch $@ $(VENV)/.installed

clean:
	rm -rf $(VENV)
