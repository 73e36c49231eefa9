#!/usr/bin/env bash
# A laboratory's system sending results over MLLP with the HL7 client laboratories'
# integrators use (PyPI `hl7`, python-hl7, pinned, in a venv of its own: its
# `mllp_send` command and its MLLPClient) against `gongti demo` with
# `--mllp-listen` (scripts/hl7_clients.py says which messages and answers); and the
# same laboratory's system receiving the demo's laboratory orders as OML^O21 on
# python-hl7's MLLP server (`--hl7-send` names it for the demo's first tertiary
# hospital, whose code the demo's default seed fixes and the script checks).
# Usage: scripts/hl7-clients.sh [path/to/gongti]
set -euo pipefail
cd "$(dirname "$0")/.."

gongti="${1:-${CARGO_TARGET_DIR:-target}/debug/gongti}"
venv="${CARGO_TARGET_DIR:-target}/hl7-clients-venv"
if ! "$venv/bin/python" -c 'import hl7.client' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet 'hl7==0.4.5'
fi

source scripts/demo-server.sh
mllp="$(free_port)"
lis="$(free_port)"
lis_code=H12010100
export GONGTI_DEMO_PASSWORD="hl7-demo-$RANDOM$RANDOM" GONGTI_ADMIN_PASSWORD="hl7-admin-$RANDOM$RANDOM"
start_demo "$gongti" 300 --mllp-listen "127.0.0.1:$mllp" --hl7-send "$lis_code=127.0.0.1:$lis"
GONGTI_BASE="$base" GONGTI_MLLP_PORT="$mllp" GONGTI_LIS_PORT="$lis" GONGTI_LIS_CODE="$lis_code" GONGTI_DOCTOR_TOKEN="$(token doctor)" \
  GONGTI_SPECIALIST_TOKEN="$(token specialist)" GONGTI_WORK="$work" \
  MLLP_SEND="$venv/bin/mllp_send" "$venv/bin/python" scripts/hl7_clients.py
