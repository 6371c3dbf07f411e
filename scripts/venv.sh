#!/usr/bin/env bash
# Create (or reuse) .venv with rankbot installed in editable mode, at the versions pinned in
# constraints.txt.  `scripts/venv.sh` installs what the bot needs; `scripts/venv.sh test` adds
# the test tools.  Re-installs only when pyproject.toml or constraints.txt changed since.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
extra="${1:-}"
spec="."
if [ -n "$extra" ]; then
  spec=".[$extra]"
fi
if [ ! -x .venv/bin/python ]; then
  echo "rankbot: creating .venv with $("$PY" --version 2>&1)" >&2
  "$PY" -m venv .venv
fi
stamp=".venv/.rankbot-installed${extra:+-$extra}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ constraints.txt -nt "$stamp" ]; then
  echo "rankbot: installing rankbot${extra:+ and its $extra tools} into .venv" \
    "(first run: about a minute)" >&2
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e "$spec"
  touch "$stamp"
fi
