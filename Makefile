# The common tasks. `make run` and `make test` work on a fresh machine with Python 3.11+, make and git.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: run test lint bench install install-dev clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q -e '.[dev]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: install
	$(VENV)/bin/stagecoach serve

test: install-dev
	$(PY) -m pytest --cov --cov-report=term $(PYTEST_ARGS)

lint: install-dev
	$(VENV)/bin/ruff check src tests bench scripts
	$(VENV)/bin/ruff format --check src tests bench scripts
	$(VENV)/bin/mypy

bench: install-dev
	$(PY) -m pip install -q -e '.[bench]'  # Celery + Flower (the poll's peer), pyinstrument
	$(PY) -m bench

clean:
	rm -rf $(VENV) .pytest_cache .coverage .coverage.* htmlcov
