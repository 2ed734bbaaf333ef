# Collab: `make run` serves on http://127.0.0.1:8000 with embedded defaults; `make test` runs
# every test. Both set themselves up first (`make install`).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
# The test suite runs against the machine's real Postgres and Redis (README: testing).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/collab
TEST_REDIS_URL ?= redis://127.0.0.1:6379/0

.PHONY: install run test lint lock frontend node-clients browser

install: $(VENV)/.installed frontend node-clients
	$(PY) manage.py collectstatic --noinput -v 0

# Every package at the version and hash requirements-dev.lock pins (the runtime ones are those of
# requirements.lock, which the image installs), then the project itself without dependencies and
# without build isolation (its build backend, setuptools, is locked too). `pip check` fails when
# pyproject.toml asks for something the lock does not hold: then `make lock`.
$(VENV)/.installed: requirements-dev.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --require-hashes -r requirements-dev.lock
	$(PIP) install -q --no-deps --no-build-isolation -e .
	$(PIP) check || { echo "pip check failed: if pyproject.toml changed, run make lock" >&2; exit 1; }
	touch $@

# Both lock files from pyproject.toml: requirements.lock (the dependencies and the build backend),
# requirements-dev.lock (those plus the dev extra, at the same versions). Universal: one file for
# every platform and every Python the project supports (3.11 here, the image's 3.13). Pins that
# pyproject.toml still allows are kept; `make lock UPGRADE=1` moves everything to the newest.
UV := $(VENV)/bin/uv
LOCK_FLAGS := --universal --generate-hashes --custom-compile-command "make lock" --quiet \
	$(if $(UPGRADE),--upgrade)
BUILD_REQUIRES := $(PYTHON) -c "import tomllib; \
	print(*tomllib.load(open('pyproject.toml', 'rb'))['build-system']['requires'], sep='\n')"

lock:
	test -x $(UV) || { test -x $(PY) || $(PYTHON) -m venv $(VENV); $(PIP) install -q uv; }
	$(BUILD_REQUIRES) | $(UV) pip compile pyproject.toml - $(LOCK_FLAGS) -o requirements.lock
	$(BUILD_REQUIRES) | $(UV) pip compile pyproject.toml - --extra dev -c requirements.lock \
		$(LOCK_FLAGS) -o requirements-dev.lock

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

# The suite runs the defaults users get but for two settings (README: testing): a fixed
# SECRET_KEY (required without DEBUG) and fast password hashing (thousands of users are made).
TEST_ENV := SECRET_KEY=collab-test-only COLLAB_FAST_PASSWORD_HASHING=1 TEST_REDIS_URL=$(TEST_REDIS_URL)

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
