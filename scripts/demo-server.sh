# Sourced by the scripts that run real clients against a served demo region
# (schemathesis.sh, fhir-clients.sh, hl7-clients.sh).
#   free_port                       a free loopback port
#   start_demo GONGTI RESIDENTS [ARG…]
#                                   `gongti demo` in a temporary directory ($work) on a
#                                   free port ($base), waited for; stopped and removed
#                                   on exit (GONGTI_DEMO_PASSWORD and
#                                   GONGTI_ADMIN_PASSWORD set before)
#   stop_demo                       stops it now (its data stays until exit)
#   token USER [PASSWORD]           a bearer token (the demo password by default)

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

stop_demo() { kill -TERM "$server" 2>/dev/null && wait "$server" 2>/dev/null || true; }

start_demo() {
  local gongti="$1" residents="$2" port
  shift 2
  work="$(mktemp -d)"
  port="$(free_port)"
  "$gongti" demo --residents "$residents" --data-dir "$work/data" --listen "127.0.0.1:$port" "$@" \
    >"$work/server.log" 2>&1 &
  server=$!
  trap 'stop_demo; rm -rf "$work"' EXIT
  base="http://127.0.0.1:$port"
  for _ in $(seq 600); do
    curl -fsS "$base/healthz" >/dev/null 2>&1 && return 0
    kill -0 "$server" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
    sleep 0.5
  done
  echo "the demo did not answer /healthz" >&2
  exit 1
}

token() {
  curl -fsS -X POST "$base/api/v1/auth/token" -H 'content-type: application/json' \
    -d "{\"username\":\"$1\",\"password\":\"${2:-$GONGTI_DEMO_PASSWORD}\"}" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])'
}
