#!/usr/bin/env bash
# Install Allure 3 (Node, no Java) for `mt-verify report` into .tools/allure/ (ignored by git).
#   bash scripts/install-allure.sh            install the pinned version (idempotent)
#   ALLURE_VERSION=3.18.0 bash scripts/install-allure.sh
# Needs node and npm (scripts/setup.sh installs them). The report itself never needs the network.
set -euo pipefail
cd "$(dirname "$0")/.."

version="${ALLURE_VERSION:-3.18.0}"
prefix=".tools/allure"
bin="$prefix/node_modules/.bin/allure"

if ! command -v npm >/dev/null 2>&1; then
  echo "install-allure: npm not found; install nodejs and npm first (apt-get install -y nodejs npm)" >&2
  exit 1
fi

mkdir -p "$prefix"
# Everything under .tools/ is a local install, never committed.
[ -f .tools/.gitignore ] || printf '*\n' > .tools/.gitignore

installed="$(node -p "require('./$prefix/node_modules/allure/package.json').version" 2>/dev/null || true)"
if [ -x "$bin" ] && [ "$installed" = "$version" ]; then
  echo "==> allure $installed already in $prefix"
  exit 0
fi

echo "==> npm install allure@$version into $prefix"
[ -f "$prefix/package.json" ] || printf '{\n  "private": true,\n  "description": "Allure 3 for mt-verify report"\n}\n' > "$prefix/package.json"
npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error --save-exact "allure@$version" >/dev/null
"$bin" --version >/dev/null 2>&1 || node -e "require('./$prefix/node_modules/allure/package.json')"
echo "==> allure $(node -p "require('./$prefix/node_modules/allure/package.json').version") installed: $bin"
