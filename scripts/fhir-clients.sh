#!/usr/bin/env bash
# An integrator's task list with the FHIR clients integrators use (PyPI fhirclient and
# fhirpy, pinned, in a venv of their own) against a demo region served by
# `gongti demo` (scripts/fhir_clients.py says which tasks).
# Usage: scripts/fhir-clients.sh [path/to/gongti]
set -euo pipefail
cd "$(dirname "$0")/.."

gongti="${1:-${CARGO_TARGET_DIR:-target}/debug/gongti}"
venv="${CARGO_TARGET_DIR:-target}/fhir-clients-venv"
if ! "$venv/bin/python" -c 'import fhirclient, fhirpy' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet 'fhirclient==4.4.0' 'fhirpy==2.3.1'
fi

work="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
export GONGTI_DEMO_PASSWORD="fc-demo-$RANDOM$RANDOM" GONGTI_ADMIN_PASSWORD="fc-admin-$RANDOM$RANDOM"
"$gongti" demo --residents 1500 --data-dir "$work/data" --listen "127.0.0.1:$port" >"$work/server.log" 2>&1 &
server=$!
trap 'kill -TERM "$server" 2>/dev/null; wait "$server" 2>/dev/null; rm -rf "$work"' EXIT
base="http://127.0.0.1:$port"
for _ in $(seq 600); do
  curl -fsS "$base/healthz" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
  sleep 0.5
done
token() {
  curl -fsS -X POST "$base/api/v1/auth/token" -H 'content-type: application/json' \
    -d "{\"username\":\"$1\",\"password\":\"$GONGTI_DEMO_PASSWORD\"}" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])'
}
doctor="$(token doctor)"
specialist="$(token specialist)"
hospital="$(curl -fsS "$base/api/v1/me" -H "Authorization: Bearer $specialist" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["institution_id"])')"
GONGTI_STORY_TOKEN="$(token nhdoctor)" \
  GONGTI_FHIR_BASE="$base/fhir" GONGTI_DOCTOR_TOKEN="$doctor" GONGTI_SPECIALIST_TOKEN="$specialist" \
  GONGTI_HOSPITAL="Organization/$hospital" "$venv/bin/python" scripts/fhir_clients.py
