# mambaboot: `make build` makes dist/mambaboot, `make test` runs every test (building
# first), `make test-oldest` runs the unit and source-mode end-to-end tests with the oldest
# supported Python on this machine, `make lint` runs ruff and mypy, `make bench` measures,
# `make test-windows` builds dist/mambaboot.exe and runs the tests under Wine, `make
# bench-windows` measures it there (root; devtools/windows). Everything installs itself
# into .venv (.venv-oldest) from the pinned
# requirements files.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
EXE := dist/mambaboot
# pytest-xdist workers for make test: most of a test's time is a child process's start-up
TEST_WORKERS ?= 2
SOURCES := $(shell find bootstrap -name '*.py') build.spec

OLDEST_PYTHON ?= $(shell devtools/oldest-python)
OLDEST_VENV := .venv-oldest
OLDEST_TESTS := tests/test_micromamba_sources.py tests/test_create_e2e.py \
	tests/test_security.py tests/test_relocate.py tests/test_settings.py tests/test_config.py \
	tests/test_activation.py tests/test_environ.py tests/test_paths.py tests/test_receipt.py

.PHONY: all venv build test test-source test-oldest test-windows lint bench bench-windows \
	clean

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
	MAMBABOOT_TEST_EXE=$(CURDIR)/$(EXE) $(PY) -m pytest -n $(TEST_WORKERS)

test-source: $(STAMP)
	$(PY) -m pytest -m "not frozen"

test-windows: $(STAMP)
	HOST_PYTHON=$(CURDIR)/$(PY) devtools/windows/test-windows.sh

# The real micromamba's runs are left to `make test` (MAMBABOOT_REAL_MICROMAMBA= skips them).
test-oldest: $(OLDEST_VENV)/.installed
	MAMBABOOT_REAL_MICROMAMBA= $(OLDEST_VENV)/bin/python -m pytest -m "not frozen" $(OLDEST_TESTS)

$(OLDEST_VENV)/.installed: requirements.txt requirements-dev.txt
	$(OLDEST_PYTHON) -m venv $(OLDEST_VENV)
	$(OLDEST_VENV)/bin/python -m pip install --quiet --disable-pip-version-check \
		-r requirements-dev.txt
	touch $@

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m mypy

bench: build
	$(PY) bench/run.py

bench-windows: $(STAMP)
	HOST_PYTHON=$(CURDIR)/$(PY) devtools/windows/bench.sh

clean:
	rm -rf build dist .pytest_cache .mypy_cache .ruff_cache $(OLDEST_VENV)
