#!/usr/bin/env bash
# The contract run: schemathesis (PyPI, pinned) against the OpenAPI document of a
# demo region served by `gongti demo`, once with a family doctor's token and once
# with an administrator's; every check on (no 5xx, every status, content type,
# header and body as documented, schema-valid data accepted, schema-violating data
# refused). Bounded by SCHEMATHESIS_EXAMPLES per operation (default 30) and a fixed
# seed (SCHEMATHESIS_SEED); then `gongti audit verify` on what the run wrote.
# Hypothesis's too_slow health check is off (it measures generation time, which a
# busy machine fails by chance) and a request the network dropped before any answer
# (a keep-alive connection the server closed as it idled) is sent once more; a
# failure prints its FAILURES and ERRORS sections in full. One worker: with two
# threads, Hypothesis's parsing of lambda sources meets CPython 3.11's thread-unsafe
# AST recursion counter ("SystemError: AST constructor recursion depth mismatch",
# CPython gh-106905) — a runtime error of the tool, not of Gongti.
# Usage: scripts/schemathesis.sh [path/to/gongti]
set -euo pipefail
cd "$(dirname "$0")/.."

gongti="${1:-${CARGO_TARGET_DIR:-target}/debug/gongti}"
examples="${SCHEMATHESIS_EXAMPLES:-30}"
seed="${SCHEMATHESIS_SEED:-20261201}"
venv="${CARGO_TARGET_DIR:-target}/schemathesis-venv"
if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q '4.32.5'; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet 'schemathesis==4.32.5'
fi

source scripts/demo-server.sh
export GONGTI_DEMO_PASSWORD="st-demo-$RANDOM$RANDOM" GONGTI_ADMIN_PASSWORD="st-admin-$RANDOM$RANDOM"
start_demo "$gongti" 1500
curl -fsS "$base/api/v1/openapi.json" >"$work/openapi.json"

# Both tokens first: the run's own wrong sign-ins soon hold this source back.
declare -A tokens=([doctor]="$(token doctor "$GONGTI_DEMO_PASSWORD")" [admin]="$(token admin "$GONGTI_ADMIN_PASSWORD")")
status=0
for who in doctor admin; do
  echo "schemathesis as $who: $examples examples per operation, seed $seed" >&2
  # DELETE /auth/token would revoke the very token the run signs with.
  SCHEMATHESIS_HOOKS=gongti_hooks PYTHONPATH="$PWD/scripts/schemathesis" \
    "$venv/bin/schemathesis" --config-file scripts/schemathesis/schemathesis.toml run \
    "$work/openapi.json" --url "$base/api/v1" \
    -H "Authorization: Bearer ${tokens[$who]}" \
    --checks all --phases examples,coverage,fuzzing --max-examples "$examples" \
    --seed "$seed" --workers 1 --exclude-name 'DELETE /auth/token' \
    --suppress-health-check too_slow --request-retries 1 \
    --warnings off --no-color >"$work/$who.txt" 2>&1 || status=1
  tail -n 14 "$work/$who.txt" >&2
  if [ "$status" -ne 0 ]; then sed -n '/FAILURES\|ERRORS/,/SUMMARY/p' "$work/$who.txt" >&2; break; fi
done
stop_demo
if [ "$status" -eq 0 ]; then
  "$gongti" audit verify --data-dir "$work/data" >&2 || status=1
fi
exit "$status"
