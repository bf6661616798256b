#!/usr/bin/env bash
# Set up (if needed) and run one benchmark: scripts/bench.sh NAME [options]
#   NAME: calls | contention | search | slots | caller_time | tts | import   (scripts/bench.sh --help lists them)
# Figures print as tables; JSON (and PNG plots) go to bench/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --bench
# shellcheck disable=SC1091
. .venv/bin/activate
exec python -m bench "$@"
