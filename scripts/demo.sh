#!/usr/bin/env bash
# Quick start 1: set up .venv and replay the early-2026 story (no tokens, no network).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/venv.sh
exec .venv/bin/rankbot demo "$@"
