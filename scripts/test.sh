#!/usr/bin/env bash
# The whole test suite: install the test extras, make sure PostgreSQL and Redis answer, then
# lint, type-check and run pytest against them. Used by README and by CI.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'

services=../shared/services.sh
if [ -x "$services" ] || [ -f "$services" ]; then
  bash "$services"
fi

.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy src
.venv/bin/python -m pytest "$@"
