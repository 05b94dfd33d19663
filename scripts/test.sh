#!/usr/bin/env bash
# The whole suite: one Kafka broker and one PostgreSQL server for all of it, then one pytest session per part.
#
# Each service's tests run in a session of their own: a session puts its topics under a namespace of its own
# (see the pytest plugin), so one service's test instances never react to another part's test events. Kafka and
# PostgreSQL come from KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL when both are set, from testcontainers (started by the
# plugin, per session) when a Docker engine answers, and otherwise from local processes started here once.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

free_port() { .venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

if [[ -z "${KAFKA_BOOTSTRAP_SERVERS:-}" || -z "${DATABASE_URL:-}" ]] && ! docker info >/dev/null 2>&1; then
  state="$(mktemp -d /tmp/xinren-test-XXXXXX)"
  chmod 755 "$state"  # the postgres user must reach its data directory below it
  export XINREN_STATE_DIR="$state" KAFKA_PORT="$(free_port)" KAFKA_CONTROLLER_PORT="$(free_port)" PG_PORT="$(free_port)"
  # The suite's throw-away cluster trades durability for speed (fsync and synchronous_commit off); make run never does.
  export XINREN_PG_DURABLE=off
  # Goes with every database the sessions make: they need not drop theirs (the plugin does on a server of one's own).
  export XINREN_THROWAWAY_CLUSTER=1
  unset KAFKA_BOOTSTRAP_SERVERS DATABASE_URL
  trap 'env -u DATABASE_URL -u KAFKA_BOOTSTRAP_SERVERS bash infra/down.sh >/dev/null; rm -rf "$state"' EXIT
  if ! bash infra/up.sh; then
    echo "FAILED: Kafka and PostgreSQL could not be started (see above); no test can run without them" >&2
    exit 1
  fi
  set -a; source "$state/infra.env"; set +a
fi

# Static checks first: they take seconds and a failure names the line.
echo "=== lint: ruff check, ruff format --check, mypy --strict"
lint_ok=1
.venv/bin/ruff check --output-format concise . || lint_ok=0
.venv/bin/ruff format --check . || lint_ok=0
.venv/bin/mypy shared/src/xinren_shared services/order/src/xinren_order services/refund/src/xinren_refund \
  services/quality-check/src/xinren_qc services/notify/src/xinren_notify services/trust/src/xinren_trust || lint_ok=0

if [[ -n "${TEST_PARTS:-}" ]]; then
  parts=("$TEST_PARTS")  # e.g. make faults: one part, no lint
  lint_ok=1
else
parts=("tests/shared tests/platform")
for dir in tests/order tests/qc tests/refund tests/notify tests/trust tests/e2e; do
  [[ -d "$dir" ]] && parts+=("$dir")
done
# The long fault scenarios run in `make faults`; their short smoke cases run here.
parts+=("tests/faults -m faults_smoke")
fi

passed=0 failed=0 errors=0 skipped=0 broken=()
if [[ -z "${TEST_PARTS:-}" ]]; then
  # helm, kubeconform, promtool, redocly for tests/platform: cached after the first fetch (deploy/tools.sh says how long).
  echo "=== tools: deploy/tools.sh fetch"
  bash deploy/tools.sh fetch || broken+=("tools (deploy/tools.sh fetch)")
fi
for part in "${parts[@]}"; do
  echo "=== pytest $part"
  log="$(mktemp)"
  # shellcheck disable=SC2086  # $part and PYTEST_ARGS are lists of words
  set +e
  .venv/bin/pytest $part ${PYTEST_ARGS:-} 2>&1 | tee "$log"
  status=${PIPESTATUS[0]}
  set -e
  summary="$(grep -E '^(=+ )?[0-9]+ (passed|failed|error|skipped|deselected).* in [0-9.]+s' "$log" | tail -n 1 || true)"
  rm -f "$log"
  count() { grep -oE "[0-9]+ $1" <<<"$summary" | grep -oE '^[0-9]+' || echo 0; }
  passed=$((passed + $(count passed))) failed=$((failed + $(count failed)))
  errors=$((errors + $(count 'errors?'))) skipped=$((skipped + $(count skipped)))
  (( status == 0 )) || broken+=("$part (exit $status)")
done

(( lint_ok )) || broken+=("lint")
echo
echo "parts: ${#parts[@]}; broken: ${broken[*]:-none}"
echo "total: $passed passed, $((failed + errors)) failed, $skipped skipped"
(( ${#broken[@]} == 0 ))
