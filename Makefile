# Two commands on a fresh clone: `make serve` and `make test`. Everything they need is installed here.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
PIP := $(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt
# Debian packages are installed when missing; root needs no sudo.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_INSTALL := $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends

.PHONY: serve test lint typecheck js bench system-graphviz system-chromium system-haproxy system-node clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.serve: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) -e .
	touch $@

$(VENV)/.test: pyproject.toml constraints.txt $(VENV)/.serve
	$(PIP) -e '.[test]'
	touch $@

$(VENV)/.bench: pyproject.toml constraints.txt $(VENV)/.test
	$(PIP) -e '.[test,bench]'
	touch $@

# The page's lint and unit tests: ESLint and `node --test`, pinned by package-lock.json and
# installed into node_modules/ (never globally), again whenever the lock changes.
node_modules/.installed: package.json package-lock.json | system-node
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

system-node:
	@command -v npm >/dev/null || { $(SUDO) apt-get update -qq && $(APT_INSTALL) nodejs npm; }

system-graphviz:
	@command -v dot >/dev/null || { $(SUDO) apt-get update -qq && $(APT_INSTALL) graphviz; }

system-chromium:
	@[ -x /usr/bin/chromium ] || { $(SUDO) apt-get update -qq && $(APT_INSTALL) chromium fonts-dejavu-core; }

# The proxy of the two-replica test (deploy/haproxy.cfg).
system-haproxy:
	@[ -x /usr/sbin/haproxy ] || { $(SUDO) apt-get update -qq && $(APT_INSTALL) haproxy; }

# uvicorn with the options of app/server/http.py (UVICORN_OPTIONS): its HTTP limits, and the app's
# own access log.
serve: $(VENV)/.serve system-graphviz
	$(BIN)/agx serve --host $(HOST) --port $(PORT)

lint: $(VENV)/.test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.test
	$(BIN)/mypy

js: node_modules/.installed
	npx --no-install eslint .
	node --test --test-reporter=spec tests/js/

test: $(VENV)/.test system-graphviz system-chromium system-haproxy lint typecheck js
	$(BIN)/pytest

bench: $(VENV)/.bench system-graphviz
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) node_modules .mypy_cache .ruff_cache .pytest_cache test-results
