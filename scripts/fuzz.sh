#!/usr/bin/env bash
# cargo fuzz (libFuzzer) on Gongti's own parsers: each target in fuzz/ for
# FUZZ_SECONDS (default 20: the test command's brief run; give 3600 for a long one
# on demand). The machine has one (stable) Rust toolchain: RUSTC_BOOTSTRAP=1 lets it
# take the coverage flags cargo fuzz passes. The targets are safe Rust over Gongti's
# own code, so they are built without AddressSanitizer (`-s none`): the whole web
# stack builds in about half the time and runs faster. A target's dictionary
# (fuzz/<target>.dict) is used when there is one. A crash leaves its input under
# fuzz/artifacts/ and fails the run.
# Usage: scripts/fuzz.sh [target ...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-20}"
if ! cargo fuzz --version 2>/dev/null | grep -q '0.13.2'; then
  cargo install cargo-fuzz --version 0.13.2 --locked
fi
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
  mapfile -t targets < <(cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz list)
fi
cd fuzz
for target in "${targets[@]}"; do
  echo "fuzzing $target for ${seconds}s" >&2
  log="$(mktemp)"
  dict=()
  [ -f "$target.dict" ] && dict=(-dict="$target.dict")
  if ! RUSTC_BOOTSTRAP=1 cargo fuzz run -s none "$target" -- -max_total_time="$seconds" "${dict[@]}" >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "fuzz target $target failed: its input is under fuzz/artifacts/$target" >&2
    exit 1
  fi
  grep -E '^Done' "$log" >&2
  rm -f "$log"
done
