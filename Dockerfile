# Collab's container image: the frontend built with Node, the Python project in a venv, and a
# slim final stage that runs `manage.py serve` as an unprivileged user. docs/self-hosting.md.
#
#   docker build -t collab .
#   docker run --rm collab python manage.py migrate        # migrations are a separate step
#
# The base images are build arguments, so a mirror or a locally made base can stand in
# (scripts/make-base-image, used by scripts/container-smoke where no registry is reachable).
# Defaults: Python 3.13 (security fixes until 2029-10) and Node 24, an LTS line supported until
# 2028-04; both images are Debian 13 (trixie). requirements.lock installs on any Python >= 3.11.
ARG PYTHON_IMAGE=python:3.13-slim
ARG NODE_IMAGE=node:24-slim

# --- frontend: the browser pages' scripts and styles, bundled by Vite into frontend/dist ------
FROM ${NODE_IMAGE} AS frontend
WORKDIR /src/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY frontend/ ./
RUN npm run build

# --- python: dependencies and the project in /opt/venv, static files collected --------------
FROM ${PYTHON_IMAGE} AS python
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH
RUN python3 -m venv /opt/venv
WORKDIR /app
# Dependencies first, from the lock file alone (every package at its pinned version, checked
# against its hashes), so a code change does not reinstall them. README: dependencies.
COPY requirements.lock ./
RUN pip install --no-cache-dir --require-hashes -r requirements.lock
COPY pyproject.toml README.md manage.py ./
COPY collab/ collab/
COPY documents/ documents/
COPY deploy/healthcheck.py deploy/healthcheck.py
# Editable: the code stays in /app (templates and migrations beside it); the final stage copies
# /app to the same path, so the venv's link to it holds there.
# Its build backend (setuptools) is in the lock too, so nothing unpinned is fetched; `pip check`
# fails the build if pyproject.toml asks for what requirements.lock does not hold.
RUN pip install --no-cache-dir --no-deps --no-build-isolation --editable . \
 && pip check \
 && python -m compileall -q collab documents
COPY --from=frontend /src/frontend/dist frontend/dist
# collectstatic needs settings, not a database or a secret: both are placeholders that only
# this RUN sees (nothing is written from them); the real ones come at run time.
RUN SECRET_KEY=collectstatic-placeholder-not-used-at-run-time \
    DATABASE_URL=sqlite:////tmp/collectstatic.sqlite3 \
    COLLAB_STATIC_ROOT=/app/static \
    python manage.py collectstatic --noinput -v 0 \
 && rm -rf /app/var

# --- final: the runtime only ----------------------------------------------------------------
FROM ${PYTHON_IMAGE}
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOST=0.0.0.0 \
    PORT=8000 \
    COLLAB_STATIC_ROOT=/app/static \
    COLLAB_LOG_FORMAT=json
RUN groupadd --gid 10001 collab \
 && useradd --uid 10001 --gid collab --home-dir /app --no-create-home \
    --shell /usr/sbin/nologin collab
COPY --from=python /opt/venv /opt/venv
COPY --from=python /app /app
# Code and static files stay root-owned (read-only to the server); var/ is the one writable
# place, for the embedded SQLite mode only (mount a volume there if you use it).
RUN install -d -o collab -g collab /app/var
WORKDIR /app
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "/app/deploy/healthcheck.py"]
STOPSIGNAL SIGTERM
CMD ["python", "manage.py", "serve", "--host", "0.0.0.0", "--port", "8000"]
