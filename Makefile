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
.PHONY: help install install-dev run test seed create-admin clean bench worker bench-checkin

help:
	@echo "make run            install, migrate, seed demo data, serve on http://127.0.0.1:5000"
	@echo "make test           install dev dependencies and run the test suite (PYTEST_ARGS=...)"
	@echo "make install        install the application's dependencies into .venv"
	@echo "make install-dev    install the application's and the test dependencies into .venv"
	@echo "make seed           apply migrations and load the demo data (safe to repeat)"
	@echo "make worker         run the Celery worker and beat for background jobs (needs REDIS_URL)"
	@echo "make create-admin EMAIL=... PASSWORD=... NAME=...   create an administrator"
	@echo "make clean          remove .venv, .tools and caches (keeps the embedded database)"
	@echo "make bench-checkin  check-in benchmark (bench/README.md; BENCH_DATABASE_URL, BENCH_ARGS=...)"

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

# With no DATABASE_URL the app starts an embedded PostgreSQL in instance/pgdata.
run: install
	$(FLASK) db upgrade
	$(FLASK) seed
	$(FLASK) run --host 127.0.0.1 --port 5000

# With no TEST_DATABASE_URL the test suite starts its own embedded PostgreSQL.
test: install-dev
	$(PIPENV) run pytest $(PYTEST_ARGS)

# Background jobs on Celery: a worker with embedded beat (order expiry, payment reconciliation).
# Needs Redis: REDIS_URL (or CELERY_BROKER_URL) in the environment or .env, for the web server too.
worker: install
	@$(PIPENV) run python -c "import config, sys; sys.exit(0 if config.get_config().CELERY_BROKER_URL else \
		'make worker needs Redis: set REDIS_URL (e.g. REDIS_URL=redis://127.0.0.1:6379/0 make worker, or in .env)')"
	$(PIPENV) run celery -A server.tasks.celery_app worker -B --loglevel=INFO $(WORKER_ARGS)

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

clean:
	rm -rf .venv $(TOOLS) .pytest_cache
	find . -path ./instance -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
