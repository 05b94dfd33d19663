#!/usr/bin/env bash
# The whole stack in the foreground: Kafka and PostgreSQL (infra/up.sh), then the five services under honcho.
# Ctrl-C (or SIGTERM) stops the services, then Kafka and PostgreSQL.
#
# With KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL both set, those servers are used and nothing else is started.
# Any XINREN_<SERVICE>_* variable already set is kept (e.g. XINREN_ORDER_DATABASE_URL, XINREN_QC_PORT, XINREN_QC_WORKERS).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export XINREN_STATE_DIR="${XINREN_STATE_DIR:-$root/.run}"

# Worker processes per service: XINREN_<SERVICE>_WORKERS for one service, XINREN_WORKERS for all, else one per core.
# Replicas share the work safely: one relay publishes at a time (advisory lock), consumers share the consumer group,
# timers and webhook deliveries are claimed with SKIP LOCKED, and LISTEN/NOTIFY reaches every worker.
export XINREN_WORKERS="${XINREN_WORKERS:-$(nproc)}"
# PostgreSQL connections: each worker keeps a pool (XINREN_<SERVICE>_DB_POOL_SIZE) and up to 3 of its own (its relay's
# LISTEN, its announcer, notify's and refund's listeners). With one worker per core that outgrows a server's usual
# few hundred on a big machine (8 cores: 5 services x 8 workers x 33 = 1,320; the first 10 of each pool open at start,
# and the stack did not start). So a service's workers share about 60 pooled connections (30 each up to 2 workers,
# at least 10 each), and the server started here gets max_connections for all of them.
needed=20 at_start=20  # psql's, the migrations' and tools' own sessions
for spec in ORDER QC REFUND NOTIFY TRUST; do
  workers_var="XINREN_${spec}_WORKERS" pool_var="XINREN_${spec}_DB_POOL_SIZE" overflow_var="XINREN_${spec}_DB_MAX_OVERFLOW"
  workers="${!workers_var:-$XINREN_WORKERS}"
  [[ "$workers" =~ ^[1-9][0-9]*$ ]] || { echo "$workers_var / XINREN_WORKERS must be a positive whole number, not '$workers'" >&2; exit 2; }
  pool=$(( (60 + workers - 1) / workers )); (( pool > 30 )) && pool=30; (( pool < 10 )) && pool=10
  export "$pool_var=${!pool_var:-$pool}"
  needed=$(( needed + workers * (${!pool_var} + ${!overflow_var:-0} + 3) ))
  # What each opens before it is ready (db_pool_open_at_start: 10, the order service its whole pool), at most its pool.
  opened_var="XINREN_${spec}_DB_POOL_OPEN_AT_START" opened=10
  [[ "$spec" == ORDER ]] && opened="${!pool_var}"
  opened="${!opened_var:-$opened}"; (( opened > ${!pool_var} )) && opened="${!pool_var}"
  at_start=$(( at_start + workers * (opened + 3) ))
done
export XINREN_PG_MAX_CONNECTIONS="${XINREN_PG_MAX_CONNECTIONS:-$(( needed > 300 ? needed : 300 ))}"

if [[ -n "${KAFKA_BOOTSTRAP_SERVERS:-}" && -n "${DATABASE_URL:-}" ]]; then
  echo "using Kafka at $KAFKA_BOOTSTRAP_SERVERS and PostgreSQL at ${DATABASE_URL%%\?*}"
else
  unset KAFKA_BOOTSTRAP_SERVERS
  trap 'env -u DATABASE_URL -u KAFKA_BOOTSTRAP_SERVERS bash infra/down.sh' EXIT
  bash infra/up.sh
  set -a; source "$XINREN_STATE_DIR/infra.env"; set +a
fi
# A server from the environment (or one started with XINREN_PG_MAX_CONNECTIONS set lower) may allow fewer. One that
# does not say (a pooler in front of it) is taken as it is.
allowed="$(.venv/bin/python -c 'import asyncio, sys, asyncpg
from xinren_shared.settings import to_plain_url
async def main():
    conn = await asyncpg.connect(to_plain_url(sys.argv[1]))
    try:
        print(await conn.fetchval("SHOW max_connections"))
    finally:
        await conn.close()
asyncio.run(main())' "$DATABASE_URL" 2>/dev/null)" || allowed=""
if [[ "$allowed" =~ ^[0-9]+$ ]] && (( allowed < needed )); then
  advice="fewer workers (XINREN_WORKERS), smaller pools (XINREN_<SERVICE>_DB_POOL_SIZE) or a server that allows more"
  if (( allowed < at_start )); then
    echo "PostgreSQL allows $allowed connections and these workers open $at_start as they start: $advice" >&2
    exit 2
  fi
  echo "warning: PostgreSQL allows $allowed connections and these workers' pools may grow to $needed under load;" \
       "past that, requests are answered 503 until connections free up: $advice" >&2
fi

base="${DATABASE_URL%/*}"
secret="${XINREN_JWT_SECRET:-$(.venv/bin/python -c 'from xinren_shared.settings import DEV_JWT_SECRET; print(DEV_JWT_SECRET)')}"
for spec in ORDER:order:8001 REFUND:refund:8002 QC:qc:8003 NOTIFY:notify:8004 TRUST:trust:8005; do
  IFS=: read -r prefix db port <<<"$spec"
  for pair in "DATABASE_URL=${base}/xinren_${db}" "KAFKA_BOOTSTRAP_SERVERS=${KAFKA_BOOTSTRAP_SERVERS}" \
              "JWT_SECRET=${secret}" "ENV=${XINREN_ENV:-dev}" "PORT=${port}"; do
    var="XINREN_${prefix}_${pair%%=*}"
    export "$var=${!var:-${pair#*=}}"
  done
done
# A developer's machine: webhooks may be sent to receivers on loopback.
export XINREN_NOTIFY_WEBHOOK_ALLOW_PRIVATE="${XINREN_NOTIFY_WEBHOOK_ALLOW_PRIVATE:-true}"

echo "order :$XINREN_ORDER_PORT  refund :$XINREN_REFUND_PORT  quality-check :$XINREN_QC_PORT  notify :$XINREN_NOTIFY_PORT  trust :$XINREN_TRUST_PORT  ($XINREN_WORKERS workers each unless XINREN_<SERVICE>_WORKERS says otherwise)"
# Not exec: the EXIT trap must still stop Kafka and PostgreSQL once honcho has stopped the services.
.venv/bin/honcho -f deploy/Procfile -d "$root" start
