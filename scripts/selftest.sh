#!/usr/bin/env bash
# The project's own tests (selftests/): fault matrices, config, gate, reports, and (-m realcluster) the same on
# a real control plane when scripts/build-cluster.sh has built it (skipped with the reason otherwise).
# Installs first when the virtual environment is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/pytest ] || bash scripts/setup.sh --install-only
# loadgroup: the real-cluster selftests (xdist_group "realcluster") share one control plane on one worker.
exec .venv/bin/pytest selftests -n 2 --dist loadgroup "$@"
