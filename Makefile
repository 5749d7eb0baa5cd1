# mambaboot: `make build` makes dist/mambaboot, `make test` runs every test (building
# first), `make lint` runs ruff and mypy, `make bench` measures, `make test-windows` builds
# dist/mambaboot.exe and runs the tests under Wine (root; devtools/windows). Everything
# installs itself into .venv from the pinned requirements files.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
EXE := dist/mambaboot
SOURCES := $(shell find bootstrap -name '*.py') build.spec

.PHONY: all venv build test test-source test-windows lint bench clean

all: build

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

build: $(EXE)

$(EXE): $(STAMP) $(SOURCES)
	PYTHONHASHSEED=0 $(PY) -m PyInstaller --noconfirm --log-level WARN \
		--distpath dist --workpath build build.spec
	@touch $@

test: build
	MAMBABOOT_TEST_EXE=$(CURDIR)/$(EXE) $(PY) -m pytest

test-source: $(STAMP)
	$(PY) -m pytest -m "not frozen"

test-windows: $(STAMP)
	HOST_PYTHON=$(CURDIR)/$(PY) devtools/windows/test-windows.sh

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m mypy

bench: build
	$(PY) bench/run.py

clean:
	rm -rf build dist .pytest_cache .mypy_cache .ruff_cache
