#!/usr/bin/env bash
# Starts a throwaway Orthanc (Debian `orthanc` with its worklist and DICOMweb plugins)
# on loopback for the tests, with dcmtk beside it for the modality's side (findscu,
# storescu, img2dcm). Installs them when missing. Usage:
#   eval "$(bash scripts/orthanc.sh start)"
#   bash scripts/orthanc.sh stop "$GONGTI_TEST_ORTHANC_DIR"
# Exports GONGTI_TEST_ORTHANC_URL (HTTP, with its user in GONGTI_TEST_ORTHANC_USER /
# _PASSWORD), GONGTI_TEST_ORTHANC_DICOM (host:port), GONGTI_TEST_ORTHANC_AET and
# GONGTI_TEST_WORKLIST_DIR (the folder its worklist plugin answers from). The modality
# AE titles allowed to ask for the worklist are the test region's clinic (C1) and the
# demo's first community centre. Orthanc answers in UTF-8 (`DefaultEncoding`), or a
# Chinese name would not survive its answer.
set -euo pipefail

ensure_installed() {
  if [ ! -x /usr/sbin/Orthanc ] || [ ! -e /usr/share/orthanc/plugins/libModalityWorklists.so ] ||
    [ ! -e /usr/share/orthanc/plugins/libOrthancDicomWeb.so ] || ! command -v findscu >/dev/null; then
    echo "installing Orthanc and dcmtk (apt-get)…" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq orthanc orthanc-dicomweb dcmtk >&2
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

start() {
  ensure_installed
  local dir http dicom password
  dir=$(mktemp -d /tmp/gongti-orthanc.XXXXXX)
  http=$(free_port)
  dicom=$(free_port)
  password=$(python3 -c 'import secrets; print(secrets.token_hex(12))')
  mkdir -p "$dir/db" "$dir/worklists"
  cat >"$dir/orthanc.json" <<JSON
{
  "Name": "GongtiTest",
  "StorageDirectory": "$dir/db",
  "IndexDirectory": "$dir/db",
  "HttpPort": $http,
  "DicomPort": $dicom,
  "DicomAet": "CLOUDPACS",
  "RemoteAccessAllowed": false,
  "AuthenticationEnabled": true,
  "RegisteredUsers": {"gongti": "$password"},
  "StableAge": 2,
  "DefaultEncoding": "Utf8",
  "Plugins": ["/usr/share/orthanc/plugins/libModalityWorklists.so",
              "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"],
  "Worklists": {"Enable": true, "Database": "$dir/worklists", "FilterIssuerAet": true},
  "DicomWeb": {"Enable": true, "Root": "/dicom-web/"},
  "DicomModalities": {
    "c1": {"AET": "C1", "Host": "127.0.0.1", "Port": 11112, "AllowFindWorklist": true},
    "demo": {"AET": "G120101000", "Host": "127.0.0.1", "Port": 11113, "AllowFindWorklist": true}
  }
}
JSON
  /usr/sbin/Orthanc "$dir/orthanc.json" >"$dir/orthanc.log" 2>&1 &
  echo $! >"$dir/pid"
  for _ in $(seq 1 100); do
    if curl -fsS -u "gongti:$password" "http://127.0.0.1:$http/system" >/dev/null 2>&1; then
      break
    fi
    sleep 0.2
  done
  curl -fsS -u "gongti:$password" "http://127.0.0.1:$http/system" >/dev/null ||
    { cat "$dir/orthanc.log" >&2; exit 1; }
  echo "export GONGTI_TEST_ORTHANC_DIR=$dir"
  echo "export GONGTI_TEST_ORTHANC_URL=http://127.0.0.1:$http"
  echo "export GONGTI_TEST_ORTHANC_USER=gongti"
  echo "export GONGTI_TEST_ORTHANC_PASSWORD=$password"
  echo "export GONGTI_TEST_ORTHANC_DICOM=127.0.0.1:$dicom"
  echo "export GONGTI_TEST_ORTHANC_AET=CLOUDPACS"
  echo "export GONGTI_TEST_WORKLIST_DIR=$dir/worklists"
}

stop() {
  local dir=$1
  if [ -f "$dir/pid" ]; then kill "$(cat "$dir/pid")" 2>/dev/null || true; fi
  sleep 0.5
  rm -rf "$dir"
}

case "${1:-}" in
  start) start ;;
  stop) stop "${2:?directory}" ;;
  *) echo "usage: $0 start | stop DIR" >&2; exit 2 ;;
esac
