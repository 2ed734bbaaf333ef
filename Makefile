# Collab: `make run` serves on http://127.0.0.1:8000 with embedded defaults; `make test` runs
# every test. Both set themselves up first (`make install`).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
# The test suite runs against the machine's real Postgres and Redis (README: testing).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/collab
TEST_REDIS_URL ?= redis://127.0.0.1:6379/0

.PHONY: install run test lint frontend node-clients browser

install: $(VENV)/.installed frontend node-clients
	$(PY) manage.py collectstatic --noinput -v 0

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e ".[dev]"
	touch $@

frontend:
	@if [ -f frontend/package.json ]; then \
		cd frontend && npm ci --no-audit --no-fund --loglevel=error && npm run build; \
	fi

node-clients:
	@if [ -f tests/e2e/yjs-client/package.json ]; then \
		cd tests/e2e/yjs-client && npm ci --no-audit --no-fund --loglevel=error; \
	fi

run: install
	$(PY) manage.py migrate --noinput -v 0
	$(PY) manage.py ensure_admin
	$(PY) manage.py serve

# Test-only settings: a fixed key, fast password hashing, no pooled connections (so the test
# database can be dropped at the end).
TEST_ENV := SECRET_KEY=collab-test-only COLLAB_FAST_PASSWORD_HASHING=1 COLLAB_DB_CONN_MAX_AGE=0 \
	TEST_REDIS_URL=$(TEST_REDIS_URL)

# The browser tests drive Debian's chromium (never a downloaded browser build).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && \
		apt-get install -y -qq chromium >/dev/null; }

test: install browser
	$(VENV)/bin/ruff check .
	$(TEST_ENV) DATABASE_URL=$(TEST_DATABASE_URL) $(VENV)/bin/pytest
	$(TEST_ENV) DATABASE_URL=sqlite:///$(CURDIR)/var/test-storage.sqlite3 \
		$(VENV)/bin/pytest -m storage -q

lint:
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .
