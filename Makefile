# motionscope — everything a new user runs, on a fresh machine, with nothing installed by hand.
#   make setup   create .venv and install (torch CPU first, then the package)
#   make demo    synthetic videos -> keypoints -> train -> evaluate -> predict, minutes on 2 cores
#   make test    ruff (lint + format check) and the whole test suite

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.motionscope-installed
TORCH  ?= torch==2.13.0

.PHONY: setup demo test lint format bench clean

setup: $(STAMP)

# Re-installs only when the dependency list changes. torch goes first: a bare torch
# requirement with no torch installed would pull a multi-GB CUDA build.
$(STAMP): pyproject.toml Makefile
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade "pip>=23"
	$(PY) -m pip install --quiet --disable-pip-version-check "$(TORCH)"
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[dev,ray,onnx,serve,rgb]"
	@touch $(STAMP)

demo: setup
	$(VENV)/bin/motionscope demo --out demo-out

lint: setup
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

format: setup
	$(VENV)/bin/ruff format src tests bench
	$(VENV)/bin/ruff check --fix src tests bench

test: lint
	$(PY) -m pytest -q

bench: setup
	$(PY) bench/accuracy.py

clean:
	rm -rf demo-out .pytest_cache .ruff_cache build dist src/*.egg-info
