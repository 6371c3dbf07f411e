#!/usr/bin/env bash
# Quick start 2: set up .venv, lint, and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/venv.sh
.venv/bin/ruff check bot tests benchmarks
exec .venv/bin/python -m pytest "$@"
