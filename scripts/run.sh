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

if [[ -n "${KAFKA_BOOTSTRAP_SERVERS:-}" && -n "${DATABASE_URL:-}" ]]; then
  echo "using Kafka at $KAFKA_BOOTSTRAP_SERVERS and PostgreSQL at ${DATABASE_URL%%\?*}"
else
  unset KAFKA_BOOTSTRAP_SERVERS
  trap 'env -u DATABASE_URL -u KAFKA_BOOTSTRAP_SERVERS bash infra/down.sh' EXIT
  bash infra/up.sh
  set -a; source "$XINREN_STATE_DIR/infra.env"; set +a
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
# Worker processes per service: XINREN_<SERVICE>_WORKERS for one service, XINREN_WORKERS for all, else one per core.
# Replicas share the work safely: one relay publishes at a time (advisory lock), consumers share the consumer group,
# timers and webhook deliveries are claimed with SKIP LOCKED, and LISTEN/NOTIFY reaches every worker.
export XINREN_WORKERS="${XINREN_WORKERS:-$(nproc)}"
# A developer's machine: webhooks may be sent to receivers on loopback.
export XINREN_NOTIFY_WEBHOOK_ALLOW_PRIVATE="${XINREN_NOTIFY_WEBHOOK_ALLOW_PRIVATE:-true}"

echo "order :$XINREN_ORDER_PORT  refund :$XINREN_REFUND_PORT  quality-check :$XINREN_QC_PORT  notify :$XINREN_NOTIFY_PORT  trust :$XINREN_TRUST_PORT  ($XINREN_WORKERS workers each unless XINREN_<SERVICE>_WORKERS says otherwise)"
# Not exec: the EXIT trap must still stop Kafka and PostgreSQL once honcho has stopped the services.
.venv/bin/honcho -f deploy/Procfile -d "$root" start
