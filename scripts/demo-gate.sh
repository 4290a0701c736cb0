#!/usr/bin/env bash
# The gate's whole story in the sandbox, ending in exit 1 (failed, rolled back, verified green after):
#   1. start the stand-in world by hand (it runs 1.29.2.1360, a good release);
#   2. ship a bad release into it: 1.29.3.1361 with its /health down (the fault comes and goes with the release);
#   3. gate it: attempt, confirm, helm rollback (the sandbox's stand-in helm), verify 1.29.2.1360 again.
# Usage: bash scripts/demo-gate.sh [FAULT]   (default health-down; `python -m sandbox faults` lists them)
# Exits with the gate's exit code. Why not `--sandbox-fault`: a fault switched on for the whole sandbox is the
# world's, not the release's, so it survives the rollback and the verification after it fails (exit 3).
set -euo pipefail
cd "$(dirname "$0")/.."
fault="${1:-health-down}"
py=.venv/bin/python
[ -x "$py" ] || py=python3

# 1. The sandbox holds our end of a pipe on its stdin and stops when it closes (when this script ends).
coproc SANDBOX { exec "$py" -m sandbox serve --ready-json --layout helm; }
sandbox_in=${SANDBOX[1]}
trap 'exec {sandbox_in}>&-; wait "$SANDBOX_PID" 2>/dev/null || true' EXIT
if ! IFS= read -r -t 30 ready <&"${SANDBOX[0]}"; then
  echo "demo-gate: the sandbox did not report ready within 30 s" >&2
  exit 4
fi
# Its ready line is {"env": {...}}: export each variable (URLs, CA, kubeconfig, stand-in helm, smoke user).
eval "$("$py" -c 'import json, shlex, sys
for k, v in json.loads(sys.argv[1])["env"].items():
    print(f"export {k}={shlex.quote(str(v))}")' "$ready")"

# 2. A bad release, as `helm upgrade` would have shipped it.
"$py" -m sandbox deploy --version 1.29.3.1361 --fault "$fault"

# 3. The gate: exit 1 expected.
set +e
"$py" -m mt_verify gate --env sandbox --expected-version 1.29.3.1361 --tiers health,deployment --rollback -q
code=$?
set -e
echo "demo-gate: mt-verify gate exited $code"
exit "$code"
