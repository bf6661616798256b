#!/usr/bin/env bash
# Set up (if needed) and run Registratura on its embedded defaults: SQLite file
# ./registratura.db, demo clinic seeded on first run, console on http://127.0.0.1:8000/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# shellcheck disable=SC1091
. .venv/bin/activate
exec registratura serve "$@"
