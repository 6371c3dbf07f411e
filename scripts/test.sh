#!/usr/bin/env bash
# Quick start 2: set up .venv, then lint, check the import layers and the types, and run the
# whole test suite (each step stops the script if it fails).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/venv.sh test
.venv/bin/ruff check bot tests benchmarks
.venv/bin/lint-imports
.venv/bin/mypy
exec .venv/bin/python -m pytest "$@"
