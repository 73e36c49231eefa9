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

source scripts/demo-server.sh
export GONGTI_DEMO_PASSWORD="fc-demo-$RANDOM$RANDOM" GONGTI_ADMIN_PASSWORD="fc-admin-$RANDOM$RANDOM"
start_demo "$gongti" 1500
doctor="$(token doctor)"
specialist="$(token specialist)"
hospital="$(curl -fsS "$base/api/v1/me" -H "Authorization: Bearer $specialist" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["institution_id"])')"
GONGTI_STORY_TOKEN="$(token nhdoctor)" \
  GONGTI_FHIR_BASE="$base/fhir" GONGTI_DOCTOR_TOKEN="$doctor" GONGTI_SPECIALIST_TOKEN="$specialist" \
  GONGTI_HOSPITAL="Organization/$hospital" "$venv/bin/python" scripts/fhir_clients.py
