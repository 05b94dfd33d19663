#!/usr/bin/env bash
# One service as deploy/Procfile starts it: uvicorn with the arguments given (the app factory, the port, the
# workers) and the settings every service shares. Its workers write their metrics to a directory of the service's
# own, emptied at every start, and /metrics sums them whichever worker answers (xinren_shared.metrics).
#   deploy/serve.sh <service> --factory <module>:create_app --port <port> --workers <n>
set -euo pipefail
service="$1"
shift
export PROMETHEUS_MULTIPROC_DIR="${XINREN_METRICS_DIR:-${XINREN_STATE_DIR:-.run}/metrics}/$service"
rm -rf "$PROMETHEUS_MULTIPROC_DIR"
mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
# uvloop and httptools by name, not "auto": without them the service fails to start instead of serving slower.
exec .venv/bin/uvicorn "$@" --host 127.0.0.1 --timeout-keep-alive 75 --no-access-log --loop uvloop --http httptools
