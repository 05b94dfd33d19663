#!/usr/bin/env bash
# Starts the local infrastructure (PostgreSQL and Kafka, in parallel) and writes
# <state>/infra.env with the addresses the services and tests need:
#
#   KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:<KAFKA_PORT>
#   DATABASE_URL=postgresql://postgres@127.0.0.1:<PG_PORT>/postgres   (or the given DATABASE_URL)
#
# Idempotent: whatever already runs is left alone; downloads are cached.
# Environment: see infra/kafka.sh and infra/postgres.sh (KAFKA_PORT, PG_PORT,
# DATABASE_URL, XINREN_STATE_DIR, XINREN_CACHE_DIR, ...). Stop with infra/down.sh.
set -euo pipefail

INFRA_TAG=up
# shellcheck source=infra/lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)/lib.sh"

KAFKA_PORT="${KAFKA_PORT:-9092}"
PG_PORT="${PG_PORT:-5432}"
require_port KAFKA_PORT "$KAFKA_PORT"
require_port PG_PORT "$PG_PORT"
export KAFKA_PORT PG_PORT

mkdir -p "$XINREN_STATE_DIR"
t0="$(now_ms)"

# run_tagged NAME SCRIPT: runs `SCRIPT start`, each output line prefixed.
run_tagged() {
  set -o pipefail
  bash "$2" start 2>&1 | sed -u "s/^\[$1\] //; s/^/[$1] /"
}

run_tagged postgres "$INFRA_DIR/postgres.sh" &
pg_job=$!
run_tagged kafka "$INFRA_DIR/kafka.sh" &
kafka_job=$!

failed=()
wait "$pg_job" || failed+=(postgres)
wait "$kafka_job" || failed+=(kafka)
if ((${#failed[@]})); then
  die "could not start: ${failed[*]} (see the messages above; infra/down.sh stops what did start)"
fi

if [[ -n "${DATABASE_URL:-}" ]]; then
  db_url="$DATABASE_URL"
else
  db_url="postgresql://postgres@127.0.0.1:$PG_PORT/postgres"
fi
env_file="$XINREN_STATE_DIR/infra.env"
cat >"$env_file.tmp" <<ENV
KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$KAFKA_PORT
DATABASE_URL=$db_url
ENV
mv "$env_file.tmp" "$env_file"

log "infrastructure up in $(( ($(now_ms) - t0) / 1000 ))s; wrote $env_file:"
cat "$env_file"
