#!/usr/bin/env bash
# Runs every Gongti test on a fresh machine: installs and starts what the tests need
# (a throwaway PostgreSQL and Orthanc on loopback, dcmtk; Chromium and ChromeDriver for
# the browser tests),
# checks formatting and lints, then runs the whole suite with cargo-nextest.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*" >&2; }

# Space first: a test that fails with "database or disk is full" should say so here.
df -h . "${TMPDIR:-/tmp}" >&2 || true
# A CI clone builds once: incremental caches would only take space.
if [ -n "${CI:-}" ]; then
  export CARGO_INCREMENTAL=0
fi

step "Chromium, ChromeDriver and CJK fonts for the browser tests and their screenshots"
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ] ||
  ! dpkg -s fonts-noto-cjk >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium chromium-driver fonts-noto-cjk >/dev/null
fi

# Every test's scratch files (each SQLite test database, the servers' data directories,
# the browsers' profiles) go under one directory of this run, removed when it ends, so
# runs never pile their leftovers up on a shared disk.
scratch="$(mktemp -d "${TMPDIR:-/tmp}/gongti-tests.XXXXXX")"
GONGTI_TEST_PG_DIR=""
GONGTI_TEST_ORTHANC_DIR=""
cleanup() {
  if [ -n "$GONGTI_TEST_PG_DIR" ]; then bash scripts/postgres.sh stop "$GONGTI_TEST_PG_DIR"; fi
  if [ -n "$GONGTI_TEST_ORTHANC_DIR" ]; then bash scripts/orthanc.sh stop "$GONGTI_TEST_ORTHANC_DIR"; fi
  rm -rf "$scratch"
}
trap cleanup EXIT

step "PostgreSQL for the contract suite"
eval "$(bash scripts/postgres.sh start)"
echo "PostgreSQL at $GONGTI_TEST_DATABASE_URL" >&2

step "Orthanc (worklist and DICOMweb plugins) and dcmtk, the cloud examination's real peers"
eval "$(bash scripts/orthanc.sh start)"
echo "Orthanc at $GONGTI_TEST_ORTHANC_URL, DICOM $GONGTI_TEST_ORTHANC_DICOM" >&2
export TMPDIR="$scratch"

step "FHIR validator (PyPI fhir.resources 6.5, R4) in a venv of its own"
target_dir="${CARGO_TARGET_DIR:-target}"
venv="$target_dir/fhir-venv"
if ! "$venv/bin/python" -c 'import fhir.resources' 2>/dev/null; then
  mkdir -p "$target_dir"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet 'fhir.resources==6.5.0' 'pydantic<2'
fi
export GONGTI_FHIR_PYTHON="$PWD/$venv/bin/python"
case "$venv" in /*) export GONGTI_FHIR_PYTHON="$venv/bin/python" ;; esac

step "HL7 v2 validator (PyPI hl7apy 1.3.5, strict v2.5.1) in a venv of its own"
hl7_venv="$target_dir/hl7-validator-venv"
if ! "$hl7_venv/bin/python" -c 'import hl7apy' 2>/dev/null; then
  python3 -m venv "$hl7_venv"
  "$hl7_venv/bin/pip" install --quiet 'hl7apy==1.3.5'
fi
export GONGTI_HL7_PYTHON="$PWD/$hl7_venv/bin/python"
case "$hl7_venv" in /*) export GONGTI_HL7_PYTHON="$hl7_venv/bin/python" ;; esac

step "FHIR validator (npm @medplum/core validateResource, R4 definitions), pinned by scripts/fhir-node"
node_dir="$target_dir/fhir-node"
if ! cmp -s scripts/fhir-node/package-lock.json "$node_dir/package-lock.json" ||
  [ ! -d "$node_dir/node_modules/@medplum/core" ]; then
  mkdir -p "$node_dir"
  cp scripts/fhir-node/package.json scripts/fhir-node/package-lock.json "$node_dir/"
  (cd "$node_dir" && npm ci --silent --no-audit --no-fund)
fi
export GONGTI_FHIR_NODE="$PWD/$node_dir"
case "$node_dir" in /*) export GONGTI_FHIR_NODE="$node_dir" ;; esac

step "format"
cargo fmt --all -- --check

step "lints"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "tests"
if ! cargo nextest --version >/dev/null 2>&1; then
  cargo install cargo-nextest --locked
fi
cargo nextest run --workspace --locked --no-fail-fast || {
  rc=$?
  df -h . "${TMPDIR:-/tmp}" >&2 || true
  exit "$rc"
}

# The browser tests' pictures of each role's main pages (1440 and 390 px): look at them.
shots="${GONGTI_SCREENSHOT_DIR:-target/screenshots}"
echo "screenshots: $shots ($(ls "$shots"/*.png 2>/dev/null | wc -l) pictures)" >&2

step "contract: schemathesis against the OpenAPI document (doctor and administrator)"
bash scripts/schemathesis.sh "${CARGO_TARGET_DIR:-target}/debug/gongti"

step "FHIR clients: fhirclient and fhirpy run an integrator's task list against a demo region"
bash scripts/fhir-clients.sh "${CARGO_TARGET_DIR:-target}/debug/gongti"

step "HL7 clients: python-hl7's mllp_send and MLLPClient send laboratory results to a demo region"
bash scripts/hl7-clients.sh "${CARGO_TARGET_DIR:-target}/debug/gongti"

step "DICOM clients: pydicom and dicomweb-client as a clinic's ECG cart, DR and viewer, through Gongti to the real Orthanc"
bash scripts/dicom-clients.sh "${CARGO_TARGET_DIR:-target}/debug/gongti"

step "fuzz: cargo fuzz targets, briefly (FUZZ_SECONDS=3600 bash scripts/fuzz.sh for a long run)"
bash scripts/fuzz.sh
