#!/usr/bin/env bash
# Local PostgreSQL for development and tests, without Docker.
#
# Usage: infra/postgres.sh start|stop|status
#
# With DATABASE_URL set, nothing is started or stopped: the script only checks
# that the server answers (pg_isready) and prints the URL.
#
# Otherwise it runs a PRIVATE cluster owned by the `postgres` OS user (when run
# as root; as another user, owned by that user):
#   data   <state>/pg/data      socket  <state>/pg/run
#   log    <state>/pg/postgres.log
# listening on 127.0.0.1:$PG_PORT only, and creates the databases in
# PG_DATABASES. Debian's postgresql package is installed if initdb is missing.
#
# Environment:
#   PG_PORT           TCP port on 127.0.0.1 (default 5432)
#   PG_DATABASES      databases to create (default "xinren_order xinren_refund xinren_qc xinren_notify xinren_trust")
#   DATABASE_URL      use this server instead of a private cluster
#   XINREN_STATE_DIR  runtime state (default <repo>/.run)
#   XINREN_PG_DURABLE       "off" only for the test suite (fsync and synchronous_commit off)
#   XINREN_PG_MAX_CONNECTIONS  max_connections (default 300; scripts/run.sh sets what its workers need)
set -euo pipefail

INFRA_TAG=postgres
# shellcheck source=infra/lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)/lib.sh"

PG_PORT="${PG_PORT:-5432}"
require_port PG_PORT "$PG_PORT"
PG_DATABASES="${PG_DATABASES:-xinren_order xinren_refund xinren_qc xinren_notify xinren_trust}"

PGSTATE="$XINREN_STATE_DIR/pg"
PGDATA_DIR="$PGSTATE/data"
PGSOCK_DIR="$PGSTATE/run"
PGLOG="$PGSTATE/postgres.log"
PG_MAX_CONNECTIONS="${XINREN_PG_MAX_CONNECTIONS:-300}"
[[ "$PG_MAX_CONNECTIONS" =~ ^[0-9]+$ ]] && (( PG_MAX_CONNECTIONS >= 20 )) \
  || die "XINREN_PG_MAX_CONNECTIONS must be a whole number of at least 20, not '$PG_MAX_CONNECTIONS'"

# ---------------------------------------------------------------- external server

external_check() {
  command -v pg_isready >/dev/null 2>&1 || apt_install postgresql-client
  if ! pg_isready -q -t 10 -d "$(libpq_url "$DATABASE_URL")"; then
    die "DATABASE_URL does not answer (pg_isready -d): $(redact "$DATABASE_URL")"
  fi
  log "using DATABASE_URL=$(redact "$DATABASE_URL") (not managed by this script)"
}

# libpq_url: postgresql+asyncpg://... -> postgresql://... (libpq knows no driver suffix).
libpq_url() { sed -E 's#^postgres(ql)?\+[a-z0-9]+://#postgresql://#' <<<"$1"; }

redact() { sed -E 's#(://[^:/@]+):[^@/]*@#\1:***@#' <<<"$1"; }

# ---------------------------------------------------------------- private cluster

# find_bindir: prints the directory holding initdb/pg_ctl, newest version first.
find_bindir() {
  local d
  if command -v pg_config >/dev/null 2>&1; then
    d="$(pg_config --bindir 2>/dev/null || true)"
    if [[ -n "$d" && -x "$d/initdb" && -x "$d/pg_ctl" ]]; then
      echo "$d"
      return 0
    fi
  fi
  # shellcheck disable=SC2012  # the paths are /usr/lib/postgresql/<number>/bin
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4,4 -n -r); do
    if [[ -x "$d/initdb" && -x "$d/pg_ctl" ]]; then
      echo "$d"
      return 0
    fi
  done
  d="$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/initdb)")"
  [[ -x "$d/initdb" && -x "$d/pg_ctl" ]] && { echo "$d"; return 0; }
  return 1
}

ensure_server_installed() {
  if BINDIR="$(find_bindir)"; then
    return 0
  fi
  apt_install postgresql
  BINDIR="$(find_bindir)" || die "postgresql installed but initdb/pg_ctl not found"
  # Debian's package may create and start its own 'main' cluster on port 5432;
  # it is not ours to keep running.
  if command -v pg_lsclusters >/dev/null 2>&1; then
    local ver name
    while read -r ver name _; do
      if [[ "$name" == main ]]; then
        pg_ctlcluster "$ver" main stop >/dev/null 2>&1 || true
      fi
    done < <(pg_lsclusters -h 2>/dev/null || true)
  fi
}

# as_owner CMD...: runs CMD as the cluster owner (postgres refuses to run as root).
as_owner() {
  # cd /: the owner may not be allowed into the caller's working directory.
  if [[ "$(id -u)" == 0 ]]; then
    (cd / && runuser -u postgres -- "$@")
  else
    (cd / && "$@")
  fi
}

prepare_dirs() {
  mkdir -p "$PGDATA_DIR" "$PGSOCK_DIR"
  if [[ "$(id -u)" == 0 ]]; then
    id postgres >/dev/null 2>&1 || die "the 'postgres' OS user does not exist (it comes with Debian's postgresql package)"
    chown postgres:postgres "$PGSTATE" "$PGSOCK_DIR"
    chown -R postgres:postgres "$PGDATA_DIR"
    chmod 700 "$PGDATA_DIR"
    # The server must reach its data dir: every parent needs o+x (or be postgres-owned).
    if ! runuser -u postgres -- test -x "$PGSTATE" -a -w "$PGSOCK_DIR"; then
      die "the postgres user cannot reach $PGSTATE: make every parent directory world-traversable (chmod o+x) or set XINREN_STATE_DIR elsewhere (e.g. /tmp/xinren)"
    fi
  else
    chmod 700 "$PGDATA_DIR"
  fi
}

write_config() {
  # Rewritten on every start so a changed PG_PORT, state dir or durability takes effect.
  # Durable by default: a commit a service acknowledged survives a crash of PostgreSQL or of the machine. Only the
  # test suite sets XINREN_PG_DURABLE=off (scripts/test.sh), trading that for speed on throw-away databases.
  local durability
  if [[ "${XINREN_PG_DURABLE:-on}" == "off" ]]; then
    durability=$'# TEST CLUSTER (XINREN_PG_DURABLE=off): a crash can lose or corrupt data.\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off'
  else
    durability=$'fsync = on\nsynchronous_commit = on\nfull_page_writes = on'
  fi
  cat >"$PGDATA_DIR/xinren.conf" <<EOF
# Generated by infra/postgres.sh. Every local connection is trusted (development only).
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PGSOCK_DIR'
max_connections = $PG_MAX_CONNECTIONS
shared_buffers = 128MB
$durability
logging_collector = off
log_min_messages = warning
log_line_prefix = '%m [%p] %q%u@%d '
EOF
  # DEV/TEST ONLY: trust authentication, no passwords, on the socket and 127.0.0.1.
  cat >"$PGDATA_DIR/pg_hba.conf" <<'EOF'
# Generated by infra/postgres.sh. DEVELOPMENT/TEST CLUSTER ONLY: trust auth.
# TYPE  DATABASE  USER  ADDRESS        METHOD
local   all       all                  trust
host    all       all   127.0.0.1/32   trust
EOF
  if [[ "$(id -u)" == 0 ]]; then
    chown postgres:postgres "$PGDATA_DIR/xinren.conf" "$PGDATA_DIR/pg_hba.conf"
  fi
}

initdb_if_needed() {
  [[ -f "$PGDATA_DIR/PG_VERSION" ]] && return 0
  if [[ -n "$(ls -A "$PGDATA_DIR" 2>/dev/null)" ]]; then
    die "$PGDATA_DIR is not empty but holds no cluster; remove it or choose another XINREN_STATE_DIR"
  fi
  log "initdb $PGDATA_DIR ($("$BINDIR/postgres" --version))"
  if ! as_owner "$BINDIR/initdb" -D "$PGDATA_DIR" -U postgres --auth=trust \
      --encoding=UTF8 --locale=C.UTF-8 --no-sync >"$PGSTATE/initdb.log" 2>&1; then
    cat "$PGSTATE/initdb.log" >&2
    die "initdb failed"
  fi
  echo "include_if_exists = 'xinren.conf'" >>"$PGDATA_DIR/postgresql.conf"
}

# server_running: 0 if the cluster in PGDATA_DIR is running.
server_running() {
  [[ -f "$PGDATA_DIR/postmaster.pid" ]] || return 1
  as_owner "$BINDIR/pg_ctl" status -D "$PGDATA_DIR" >/dev/null 2>&1
}

psql_admin() {
  "$PSQL" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres "$@"
}

ensure_databases() {
  local db
  for db in $PG_DATABASES; do
    [[ "$db" =~ ^[a-z_][a-z0-9_]*$ ]] || die "invalid database name in PG_DATABASES: '$db'"
    if [[ "$(psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'")" != 1 ]]; then
      psql_admin -c "CREATE DATABASE \"$db\"" || die "could not create database $db"
      log "created database $db"
    fi
  done
}

# settings_differ: what the running server has that this start would not give it (durability, max_connections,
# which take a restart), as "fsync=off, max_connections=300"; nothing when it has what this start asks for. A
# cluster left running by the test suite (durability off) must not serve make run as it is.
settings_differ() {
  local want_fsync=on want_sync=on have fsync sync conns out=()
  if [[ "${XINREN_PG_DURABLE:-on}" == "off" ]]; then want_fsync=off; want_sync=off; fi
  have="$("$PSQL" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -XAtq -F ' ' \
    -c "SELECT current_setting('fsync'), current_setting('synchronous_commit'), current_setting('max_connections')")" \
    || { echo "settings it would not show"; return 0; }
  read -r fsync sync conns <<<"$have"
  [[ "$fsync" == "$want_fsync" ]] || out+=("fsync=$fsync")
  [[ "$sync" == "$want_sync" ]] || out+=("synchronous_commit=$sync")
  [[ "$conns" == "$PG_MAX_CONNECTIONS" ]] || out+=("max_connections=$conns")
  local IFS=,
  echo "${out[*]}" | sed 's/,/, /g'
}

cmd_start() {
  if [[ -n "${DATABASE_URL:-}" ]]; then
    external_check
    echo "DATABASE_URL=$DATABASE_URL"
    return 0
  fi
  local t0
  t0="$(now_ms)"
  ensure_server_installed
  PSQL="$BINDIR/psql"
  [[ -x "$PSQL" ]] || PSQL="$(command -v psql)" || die "psql not found"
  prepare_dirs

  if server_running; then
    local differs
    if "$BINDIR/pg_isready" -q -U postgres -h 127.0.0.1 -p "$PG_PORT"; then
      differs="$(settings_differ)"
      if [[ -z "$differs" ]]; then
        log "already running on 127.0.0.1:$PG_PORT"
        ensure_databases
        return 0
      fi
      log "running with $differs: restarting with the current settings"
    else
      log "running, but not on port $PG_PORT: restarting with the current settings"
    fi
    write_config
    as_owner "$BINDIR/pg_ctl" stop -D "$PGDATA_DIR" -m fast -w -t 30 >/dev/null \
      || die "could not stop the running cluster in $PGDATA_DIR"
  fi

  if port_open "$PG_PORT"; then
    die "port $PG_PORT on 127.0.0.1 is taken by another server (e.g. Debian's own cluster: pg_lsclusters / pg_ctlcluster <ver> main stop); stop it or set PG_PORT"
  fi

  initdb_if_needed
  write_config
  log "starting PostgreSQL on 127.0.0.1:$PG_PORT (log: $PGLOG)"
  if [[ "$(id -u)" == 0 ]]; then
    touch "$PGLOG"
    chown postgres:postgres "$PGLOG"
  fi
  if ! as_owner "$BINDIR/pg_ctl" start -D "$PGDATA_DIR" -l "$PGLOG" -w -t 60 -s; then
    tail -n 30 "$PGLOG" >&2 || true
    die "PostgreSQL did not start (log: $PGLOG)"
  fi
  ensure_databases
  log "ready on 127.0.0.1:$PG_PORT after $(( ($(now_ms) - t0) / 1000 ))s"
}

cmd_stop() {
  if [[ -n "${DATABASE_URL:-}" ]]; then
    external_check
    return 0
  fi
  if [[ ! -f "$PGDATA_DIR/postmaster.pid" ]]; then
    log "not running"
    return 0
  fi
  BINDIR="$(find_bindir)" || die "initdb/pg_ctl not found"
  if ! server_running; then
    log "not running"
    return 0
  fi
  log "stopping"
  as_owner "$BINDIR/pg_ctl" stop -D "$PGDATA_DIR" -m fast -w -t 30 -s \
    || as_owner "$BINDIR/pg_ctl" stop -D "$PGDATA_DIR" -m immediate -w -t 30 -s \
    || die "could not stop the cluster in $PGDATA_DIR"
  log "stopped"
}

cmd_status() {
  if [[ -n "${DATABASE_URL:-}" ]]; then
    if pg_isready -q -t 5 -d "$(libpq_url "$DATABASE_URL")"; then
      echo "postgres: external server answers ($(redact "$DATABASE_URL"))"
      return 0
    fi
    echo "postgres: external server does not answer ($(redact "$DATABASE_URL"))"
    return 1
  fi
  if BINDIR="$(find_bindir)" && server_running && "$BINDIR/pg_isready" -q -U postgres -h 127.0.0.1 -p "$PG_PORT"; then
    echo "postgres: running on 127.0.0.1:$PG_PORT (data $PGDATA_DIR)"
    return 0
  fi
  echo "postgres: not running"
  return 1
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *)
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
