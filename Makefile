# Ticksy developer commands. The README explains them; `make help` lists them.
#
# Dependencies live in a project virtualenv (.venv) managed by pipenv from Pipfile.lock.
# pipenv itself is bootstrapped into .tools/ so nothing is installed globally.

PYTHON ?= python3
# The real interpreter behind $(PYTHON): a pyenv shim could otherwise pick another one.
PYTHON_BIN := $(shell $(PYTHON) -c 'import sys; print(sys.executable)')
ifeq ($(PYTHON_BIN),)
$(error $(PYTHON) was not found: install Python 3.11 or run make with PYTHON=/path/to/python3.11)
endif
PIPENV_VERSION := 2026.10.3

# The package index pip already uses by default, unless the environment names another.
export PIP_INDEX_URL ?= $(shell $(PYTHON) -c "from pip._internal.models.index import PyPI; print(PyPI.simple_url)")
export PIPENV_VENV_IN_PROJECT=1
export PIPENV_VERBOSITY=-1
export PIPENV_YES=1
export PIPENV_NOSPIN=1
# config.py reads .env itself without overriding the environment; pipenv would override it.
export PIPENV_DONT_LOAD_ENV=1
# Always use .venv, even when make is started from inside another activated virtualenv.
export PIPENV_IGNORE_VIRTUALENVS=1

TOOLS := .tools
PIPENV := $(TOOLS)/bin/pipenv
FLASK := $(PIPENV) run flask
INSTALLED := .venv/.ticksy-installed
INSTALLED_DEV := .venv/.ticksy-installed-dev

.DEFAULT_GOAL := help
.PHONY: help install install-dev run test lint-imports e2e seed create-admin clean bench worker bench-checkin \
	bench-abuse bench-limiter \
	client client-if-node client-dev serve audit

help:
	@echo "make run            install, migrate, seed demo data, serve on http://127.0.0.1:5000 (HOST=, PORT=)"
	@echo "make test           install dev dependencies, check the layering (lint-imports), run the tests"
	@echo "make client         build the web client into client/dist (needs Node.js 20+)"
	@echo "make client-dev     Vite dev server on http://127.0.0.1:5173, /api proxied to make run's server"
	@echo "make e2e            build the client and run only the browser tests (headless Chromium)"
	@echo "make install        install the application's dependencies into .venv"
	@echo "make install-dev    install the application's and the test dependencies into .venv"
	@echo "make seed           apply migrations and load the demo data (safe to repeat)"
	@echo "make worker         run the Celery worker and beat for background jobs (needs REDIS_URL)"
	@echo "make serve          production server: granian, TICKSY_ENV=production (docs/deploy.md)"
	@echo "make audit          security checks: bandit over the code, pip-audit over Pipfile.lock"
	@echo "make create-admin EMAIL=... PASSWORD=... NAME=...   create an administrator"
	@echo "make clean          remove .venv, .tools and caches (keeps the embedded database)"
	@echo "make bench-checkin  check-in benchmark (bench/README.md; BENCH_DATABASE_URL, BENCH_ARGS=...)"
	@echo "make bench-abuse    purchases under credential stuffing and STK-push spam (docs/security.md)"
	@echo "make bench-limiter  the rate limiter's CPU cost per check-in, in-process (docs/security.md)"

$(PIPENV):
	$(PYTHON_BIN) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet pipenv==$(PIPENV_VERSION)

$(INSTALLED): Pipfile.lock | $(PIPENV)
	$(PIPENV) sync --python $(PYTHON_BIN)
	touch $@

$(INSTALLED_DEV): Pipfile.lock | $(PIPENV)
	$(PIPENV) sync --dev --python $(PYTHON_BIN)
	touch $@ $(INSTALLED)

install: $(INSTALLED)

install-dev: $(INSTALLED_DEV)

# The web client: built into client/dist, which the app serves at `/`.
CLIENT_SOURCES := $(shell find client/src client/public client/index.html client/package.json \
	client/package-lock.json client/vite.config.js -type f 2>/dev/null)
HAVE_NPM := $(shell command -v npm 2>/dev/null)

client/node_modules/.package-lock.json: client/package-lock.json
	cd client && npm ci --no-audit --no-fund

client/dist/index.html: client/node_modules/.package-lock.json $(CLIENT_SOURCES)
	cd client && npm run build

client: client/dist/index.html

# Builds the client when Node.js is there; otherwise says how to get it and goes on with the API.
client-if-node:
ifneq ($(HAVE_NPM),)
	@$(MAKE) --no-print-directory client
else
	@echo "Node.js (npm) was not found: serving the API only. Install Node.js 20+ and run 'make client' for the web client."
endif

client-dev: client/node_modules/.package-lock.json
	cd client && npm run dev

# With no DATABASE_URL the app starts an embedded PostgreSQL in instance/pgdata.
# `make run HOST=0.0.0.0 PORT=8000` serves elsewhere than 127.0.0.1:5000.
HOST ?= 127.0.0.1
PORT ?= 5000
run: install client-if-node
	$(FLASK) db upgrade
	$(FLASK) seed
	$(FLASK) run --host $(HOST) --port $(PORT)

# With no TEST_DATABASE_URL the test suite starts its own embedded PostgreSQL.
# The browser tests in tests/e2e run too when the client is built and Chromium is installed;
# the client's own Vitest tests run after pytest when Node.js is there.
# lint-imports checks the layering contract in .importlinter before any test runs.
test: install-dev client-if-node
	$(PIPENV) run lint-imports --no-cache
	$(PIPENV) run pytest $(PYTEST_ARGS)
ifneq ($(HAVE_NPM),)
	cd client && npm test
endif

lint-imports: install-dev
	$(PIPENV) run lint-imports --no-cache

e2e: install-dev client
	$(PIPENV) run pytest tests/e2e $(PYTEST_ARGS)

# Background jobs on Celery: a worker with embedded beat (order expiry, payment reconciliation).
# Needs Redis: REDIS_URL (or CELERY_BROKER_URL) in the environment or .env, for the web server too.
worker: install
	@$(PIPENV) run python -c "import config, sys; sys.exit(0 if config.get_config().CELERY_BROKER_URL else \
		'make worker needs Redis: set REDIS_URL (e.g. REDIS_URL=redis://127.0.0.1:6379/0 make worker, or in .env)')"
	$(PIPENV) run celery -A server.run.worker worker -B --loglevel=INFO $(WORKER_ARGS)

# Production web server (docs/deploy.md): granian, settings in server/run/serve.py (PORT or BIND,
# WEB_CONCURRENCY, WEB_THREADS). It does not migrate: run `flask db upgrade` once per deploy.
serve: install
	TICKSY_ENV=$${TICKSY_ENV:-production} $(PIPENV) run python -m server.run.serve

# Security checks. bandit: every severity and confidence, settings in .ci/bandit.yaml. pip-audit:
# the locked dependencies (both groups) against PIP_AUDIT_SERVICE (pypi: PyPI's per-release JSON
# API, osv: api.osv.dev); --strict fails on any dependency it could not check. A service that
# cannot be reached fails the audit, saying so, unless PIP_AUDIT_IF_UNREACHABLE=warn.
PIP_AUDIT_SERVICE ?= pypi
PIP_AUDIT_IF_UNREACHABLE ?= fail
AUDIT_REQUIREMENTS := .venv/audit-requirements.txt

audit: install-dev
	$(PIPENV) run bandit -c .ci/bandit.yaml -q -r server config.py seed.py
	$(PIPENV) requirements --dev --hash | grep -v '^-i ' > $(AUDIT_REQUIREMENTS)
	@if $(PIPENV) run python .ci/pip_audit_probe.py $(PIP_AUDIT_SERVICE); then \
		$(PIPENV) run pip-audit --strict --disable-pip --progress-spinner off \
			--vulnerability-service $(PIP_AUDIT_SERVICE) -r $(AUDIT_REQUIREMENTS); \
	elif [ "$(PIP_AUDIT_IF_UNREACHABLE)" = warn ]; then \
		echo "pip-audit NOT RUN (PIP_AUDIT_IF_UNREACHABLE=warn): dependencies unchecked" >&2; \
	else \
		echo "pip-audit cannot run from here; PIP_AUDIT_SERVICE=osv, or PIP_AUDIT_IF_UNREACHABLE=warn" >&2; \
		exit 1; \
	fi

seed: install
	$(FLASK) db upgrade
	$(FLASK) seed

create-admin: install
	@if [ -z "$(EMAIL)" ] || [ -z "$(PASSWORD)" ] || [ -z "$(NAME)" ]; then \
		echo "usage: make create-admin EMAIL=you@example.com PASSWORD=secret NAME='Your Name'" >&2; \
		exit 2; \
	fi
	$(FLASK) db upgrade
	@$(FLASK) create-admin --email "$(EMAIL)" --password "$(PASSWORD)" --name "$(NAME)"

# Benchmark (bench/README.md): BENCH_DATABASE_URL, else DATABASE_URL's server with a <name>_bench
# database, else a temporary embedded PostgreSQL. The bench database's public schema is dropped.
bench: install-dev
	$(PIPENV) run python -m bench.onsale $(BENCH_ARGS)

# Check-in benchmark (bench/README.md, "Check-in"): same database rules as `bench`.
bench-checkin: install-dev
	$(PIPENV) run python -m bench.checkin $(BENCH_ARGS)

# Abuse benchmark (docs/security.md): purchases alone, then under attack; same database rules.
bench-abuse: install-dev
	$(PIPENV) run python -m bench.abuse $(BENCH_ARGS)

bench-limiter: install-dev
	$(PIPENV) run python -m bench.limiter_overhead $(BENCH_ARGS)

clean:
	rm -rf .venv $(TOOLS) .pytest_cache
	find . -path ./instance -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
