# The two commands of the README: `make demo` and `make test`. Everything they need is installed here.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test test-fast test-faults check lock bench system-deps proto lint clean

setup: $(STAMP)

# The exact versions of requirements.lock (runtime and test), then the project itself, editable.
$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] >= (3, 11), "Python 3.11 or later is required"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e '.[test]'
	touch $(STAMP)

# Refresh requirements.lock: resolve pyproject.toml's ranges in a throw-away venv, pin what came.
lock:
	rm -rf .lockenv && $(PYTHON) -m venv .lockenv
	.lockenv/bin/python -m pip install --quiet --upgrade pip
	.lockenv/bin/python -m pip install --quiet '.[test]'
	{ echo "# pinned by 'make lock' from pyproject.toml with $$(.lockenv/bin/python --version)"; \
	  .lockenv/bin/python -m pip freeze --exclude-editable | grep -v '^geocube-ingester'; } > requirements.lock.part
	mv requirements.lock.part requirements.lock
	rm -rf .lockenv build *.egg-info

# Debian packages the tests need: PostgreSQL (behind the Prefect server of the deployments test),
# PROJ's grids (proj-data: the EGM96 geoid that the Sentinel-1 DEM heights are corrected with) and
# Graphviz (`geocube-ingester graph --format svg|png`).
system-deps:
	@missing=; \
	ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || missing="postgresql postgresql-contrib"; \
	[ -e /usr/share/proj/egm96_15.gtx ] || missing="$$missing proj-data"; \
	command -v dot >/dev/null 2>&1 || missing="$$missing graphviz"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

demo: setup
	$(BIN)/python -m demo

# The gates: lint, format and strict types (generated stubs excluded), before any test runs.
check: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Two test processes (pytest-xdist), a module's tests in one of them (its module fixtures set up once);
# tests/conftest.py hands the modules that start servers out first.
XDIST := -n 2 --dist loadfile

test: setup system-deps check
	$(BIN)/python -m pytest $(XDIST)

test-fast: setup
	$(BIN)/python -m pytest $(XDIST) -m "not slow"

# The long process-fault tests (kills and restarts of the parent, a worker, the Prefect server, PostgreSQL:
# ~22 min).
test-faults: setup system-deps
	GEOCUBE_INGESTER_LONG_FAULTS=1 $(BIN)/python -m pytest tests/reliability/test_server_faults.py \
	  tests/reliability/test_kills.py::test_a_run_whose_worker_is_killed_ends_crashed_not_running

# The transfer benchmark's baseline is curl + unzip (Debian packages curl, unzip), the COG benchmark's
# gdal_translate (gdal-bin).
bench: setup
	@missing=; \
	command -v curl >/dev/null || missing="curl"; \
	command -v unzip >/dev/null || missing="$$missing unzip"; \
	command -v gdal_translate >/dev/null || missing="$$missing gdal-bin"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
	$(BIN)/python -m bench

proto: setup
	$(BIN)/python -m geocube_client.generate

lint: setup
	$(BIN)/ruff check .

clean:
	rm -rf .demo .run .lockenv build *.egg-info
