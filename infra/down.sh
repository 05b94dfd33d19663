#!/usr/bin/env bash
# Stops the local infrastructure started by infra/up.sh (Kafka and PostgreSQL)
# and removes <state>/infra.env. Data stays in the state dir. Idempotent.
set -euo pipefail

INFRA_TAG=down
# shellcheck source=infra/lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)/lib.sh"

failed=()
bash "$INFRA_DIR/kafka.sh" stop || failed+=(kafka)
bash "$INFRA_DIR/postgres.sh" stop || failed+=(postgres)
rm -f "$XINREN_STATE_DIR/infra.env"
((${#failed[@]} == 0)) || die "could not stop: ${failed[*]}"
log "infrastructure stopped"
