#!/usr/bin/env bash
# Set up (if needed) and run the whole test suite: lint, then pytest on SQLite and on a real
# PostgreSQL server that the test fixtures start from the Debian package (loopback only).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
# shellcheck disable=SC1091
. .venv/bin/activate
ruff check .
python -m pytest -q "$@"
