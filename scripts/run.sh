#!/usr/bin/env bash
# The whole stack in the foreground: Kafka and PostgreSQL (infra/up.sh), then the four services under honcho.
# Ctrl-C stops the services, then Kafka and PostgreSQL.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export XINREN_STATE_DIR="${XINREN_STATE_DIR:-$root/.run}"

bash infra/up.sh
trap 'bash infra/down.sh' EXIT
set -a; source "$XINREN_STATE_DIR/infra.env"; set +a

base="${DATABASE_URL%/*}"
secret="${XINREN_JWT_SECRET:-$(.venv/bin/python -c 'from xinren_shared.settings import DEV_JWT_SECRET; print(DEV_JWT_SECRET)')}"
for pair in ORDER:order:8001 REFUND:refund:8002 QC:qc:8003 NOTIFY:notify:8004; do
  IFS=: read -r prefix db port <<<"$pair"
  export "XINREN_${prefix}_DATABASE_URL=${base}/xinren_${db}"
  export "XINREN_${prefix}_KAFKA_BOOTSTRAP_SERVERS=${KAFKA_BOOTSTRAP_SERVERS}"
  export "XINREN_${prefix}_JWT_SECRET=${secret}"
  export "XINREN_${prefix}_ENV=${XINREN_ENV:-dev}"
  var="XINREN_${prefix}_PORT"; export "$var=${!var:-$port}"
done
# A developer's machine: webhooks may be sent to receivers on loopback.
export XINREN_NOTIFY_WEBHOOK_ALLOW_PRIVATE="${XINREN_NOTIFY_WEBHOOK_ALLOW_PRIVATE:-true}"

echo "order :$XINREN_ORDER_PORT  refund :$XINREN_REFUND_PORT  quality-check :$XINREN_QC_PORT  notify :$XINREN_NOTIFY_PORT"
.venv/bin/honcho -f deploy/Procfile -d "$root" start
