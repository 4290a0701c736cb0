#!/usr/bin/env bash
# The project's own tests (selftests/): fault matrices, config, gate, reports.
# Installs first when the virtual environment is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/pytest ] || bash scripts/setup.sh --install-only
exec .venv/bin/pytest selftests -n 2 "$@"
