#!/usr/bin/env bash
# The whole test suite: installs what it needs, checks style and types, runs pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
PY=${PYTHON:-python3}
"$PY" -m ruff check nftkit tests examples bench build_ffi.py
"$PY" -m mypy
"$PY" -m pytest -q -p no:cacheprovider "$@"
