#!/usr/bin/env bash
# A clinic's ECG cart and DR and a viewer with the DICOM tools integrators use (PyPI
# `pydicom` and `dicomweb-client`, pinned, in a venv of its own) against `gongti demo`
# with `--worklist-dir` and `--orthanc-url` on the real Orthanc that scripts/test.sh
# started (GONGTI_TEST_ORTHANC_*; scripts/dicom_clients.py says which tasks).
# Usage: scripts/dicom-clients.sh [path/to/gongti]
set -euo pipefail
cd "$(dirname "$0")/.."

gongti="${1:-${CARGO_TARGET_DIR:-target}/debug/gongti}"
: "${GONGTI_TEST_ORTHANC_URL:?an Orthanc is needed (eval \"\$(bash scripts/orthanc.sh start)\")}"
venv="${CARGO_TARGET_DIR:-target}/dicom-clients-venv"
if ! "$venv/bin/python" -c 'import dicomweb_client, pydicom, numpy' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet 'dicomweb-client==0.61.2' 'pydicom==3.0.2' 'numpy==2.4.6' 'requests==2.34.2'
fi

source scripts/demo-server.sh
export GONGTI_DEMO_PASSWORD="dicom-demo-$RANDOM$RANDOM" GONGTI_ADMIN_PASSWORD="dicom-admin-$RANDOM$RANDOM"
export GONGTI_ORTHANC_USER="$GONGTI_TEST_ORTHANC_USER" GONGTI_ORTHANC_PASSWORD="$GONGTI_TEST_ORTHANC_PASSWORD"
worklists="$(mktemp -d)"
start_demo "$gongti" 300 --worklist-dir "$worklists" --orthanc-url "$GONGTI_TEST_ORTHANC_URL" \
  --mllp-listen "127.0.0.1:$(free_port)"
# the worklist is written every few seconds: wait for the demo's two items
for _ in $(seq 60); do
  [ "$(ls "$worklists" | wc -l)" -ge 2 ] && break
  sleep 0.5
done
GONGTI_BASE="$base" GONGTI_WORKLIST_DIR="$worklists" GONGTI_DOCTOR_TOKEN="$(token doctor)" \
  GONGTI_OTHER_TOKEN="$(token nhdoctor)" "$venv/bin/python" scripts/dicom_clients.py
rm -rf "$worklists"
