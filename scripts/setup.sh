#!/usr/bin/env bash
# Install everything mt-verify needs on a fresh Debian 12 machine, then verify the sandbox.
#   bash scripts/setup.sh                 install, then run the suite against the sandbox
#   bash scripts/setup.sh --install-only  install only
#   bash scripts/setup.sh --with-real-cluster   also build the real cluster (scripts/build-cluster.sh; ~25 min cold)
# Idempotent: a second run only checks what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

run_suite=1
real_cluster=0
for arg in "$@"; do
  case "$arg" in
    --install-only) run_suite=0 ;;
    --with-real-cluster) real_cluster=1 ;;   # also build the real cluster (~25 min cold; a cache outside the repo)
  esac
done

sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

need_apt=()
command -v chromium >/dev/null 2>&1 || [ -n "${MT_CHROMIUM:-}" ] || need_apt+=(chromium)
# Headless journeys launch Debian's headless shell when it is there (the same Chromium; the smoke tier ~30 % faster).
command -v chromium-headless-shell >/dev/null 2>&1 || [ -n "${MT_CHROMIUM:-}" ] || need_apt+=(chromium-headless-shell)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need_apt+=(python3-venv)
command -v npm >/dev/null 2>&1 || need_apt+=(nodejs npm)
command -v prometheus-pushgateway >/dev/null 2>&1 || need_apt+=(prometheus-pushgateway)  # the selftests' metrics receiver
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "==> apt-get install ${need_apt[*]}"
  sudo_if_needed apt-get update -qq
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  echo "==> python3 -m venv .venv"
  python3 -m venv .venv
fi
echo "==> pip install -e .[dev]"
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]'

# Allure 3 (Node) renders the HTML report: mt-verify report.
if [ -f scripts/install-allure.sh ]; then
  bash scripts/install-allure.sh || echo "warning: Allure could not be installed; reports stay as results and summaries"
fi

if [ "$real_cluster" -eq 1 ]; then
  echo "==> bash scripts/build-cluster.sh"
  bash scripts/build-cluster.sh
fi

if [ "$run_suite" -eq 1 ]; then
  echo "==> pytest --env sandbox"
  exec .venv/bin/pytest --env sandbox
fi
