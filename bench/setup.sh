#!/bin/sh
# Set up the bench on top of `make install`: bench-only Python tools, and the pinned Node peers.
set -e
cd "$(dirname "$0")/.."
test -x .venv/bin/python || make install
.venv/bin/pip install -q -r bench/requirements.txt
cd bench/peers && npm ci --no-audit --no-fund --loglevel=error
cd ../nodeload && npm ci --no-audit --no-fund --loglevel=error
