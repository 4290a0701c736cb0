#!/usr/bin/env bash
# The baseline: what the runbook's manual post-deploy checks do, with curl, sequentially.
# Usage: MT_SMOKE_USERNAME=... MT_SMOKE_PASSWORD=... baseline.sh SITE_URL API_URL
# Prints one line: "checks=N failures=M".
set -u
site=$1 api=$2 user=$MT_SMOKE_USERNAME pass=$MT_SMOKE_PASSWORD
n=0 failed=0
check() { n=$((n + 1)); "$@" >/dev/null 2>&1 || failed=$((failed + 1)); }

# 1. /health answers
check curl -fsS -m 10 "$api/health"
# 2. /api/version answers (the runbook only prints it)
check curl -fsS -m 10 "$api/api/version"
# 3. standings answer, with a token
token=$(curl -fsS -m 10 -H 'Content-Type: application/json' \
  -d "{\"username\":\"$user\",\"password\":\"$pass\"}" "$api/api/auth/login" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])' 2>/dev/null)
check curl -fsS -m 10 -H "Authorization: Bearer $token" "$api/api/table"
# 4. the front page answers
check curl -fsS -m 10 "$site/"
echo "checks=$n failures=$failed"
