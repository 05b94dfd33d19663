#!/usr/bin/env bash
# Local single-node Apache Kafka (KRaft: broker + controller in one JVM) for
# development and tests, without Docker. The broker's jars come from Maven
# Central through infra/kafka/pom.xml and are cached outside the repository.
#
# Usage: infra/kafka.sh fetch|start|stop|status|run-class CLASS [ARGS...]
#
#   fetch      download the pinned Kafka jars into the cache (no-op when cached)
#   start      fetch, write server.properties, format storage once, start the
#              broker in the background and wait until it answers (no-op when
#              already running)
#   stop       SIGTERM, up to 20 s, then SIGKILL
#   status     exit 0 if the broker is running and answering
#   run-class  run a Kafka tool class with the cached classpath, e.g.
#              infra/kafka.sh run-class org.apache.kafka.tools.TopicCommand \
#                --bootstrap-server 127.0.0.1:9092 --list
#
# Environment:
#   KAFKA_PORT             client listener on 127.0.0.1 (default 9092)
#   KAFKA_CONTROLLER_PORT  KRaft controller listener (default KAFKA_PORT+1)
#   KAFKA_HEAP_OPTS        JVM heap (default "-Xms256m -Xmx512m")
#   KAFKA_OPTS             extra JVM options for the broker
#   KAFKA_START_TIMEOUT    seconds to wait for readiness (default 60)
#   XINREN_STATE_DIR       runtime state (default <repo>/.run); Kafka uses <state>/kafka
#   XINREN_CACHE_DIR       download cache (default ~/.cache/xinren)
set -euo pipefail

INFRA_TAG=kafka
# shellcheck source=infra/lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)/lib.sh"

POM="$INFRA_DIR/kafka/pom.xml"
LOG4J_CONF="$INFRA_DIR/kafka/log4j2.properties"
KAFKA_VERSION="$(sed -n 's:.*<kafka\.version>\([^<]*\)</kafka\.version>.*:\1:p' "$POM" | head -n 1)"
[[ -n "$KAFKA_VERSION" ]] || die "cannot read <kafka.version> from $POM"

KAFKA_PORT="${KAFKA_PORT:-9092}"
require_port KAFKA_PORT "$KAFKA_PORT"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}"
require_port KAFKA_CONTROLLER_PORT "$KAFKA_CONTROLLER_PORT"
[[ "$KAFKA_PORT" != "$KAFKA_CONTROLLER_PORT" ]] || die "KAFKA_PORT and KAFKA_CONTROLLER_PORT must differ"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-60}"

DIST="$XINREN_CACHE_DIR/kafka-$KAFKA_VERSION"
LIBS="$DIST/libs"
MARKER="$DIST/.complete"

KSTATE="$XINREN_STATE_DIR/kafka"
DATA="$KSTATE/data"
LOGS="$KSTATE/logs"
CONF="$KSTATE/server.properties"
PIDFILE="$KSTATE/kafka.pid"
FORMAT_STAMP="$KSTATE/format.stamp"
CLUSTER_ID_FILE="$KSTATE/cluster.id"

pom_hash() { sha256sum "$POM" | cut -d' ' -f1; }

libs_complete() {
  [[ -f "$MARKER" && "$(cat "$MARKER")" == "$(pom_hash)" && -f "$LIBS/kafka_2.13-$KAFKA_VERSION.jar" ]]
}

require_java() {
  if ! command -v java >/dev/null 2>&1; then
    apt_install openjdk-17-jre-headless
  fi
  local line major
  line="$(java -version 2>&1 | head -n 1)"
  major="$(sed -n 's/.*version "\([0-9]*\).*/\1/p' <<<"$line")"
  [[ "$major" =~ ^[0-9]+$ ]] || die "cannot tell the Java version from: $line"
  (( major >= 17 )) || die "Kafka $KAFKA_VERSION needs Java 17 or newer; found: $line"
}

cmd_fetch() {
  if libs_complete; then
    [[ "${1:-}" == quiet ]] || log "Kafka $KAFKA_VERSION jars cached in $LIBS"
    return 0
  fi
  require_java
  command -v mvn >/dev/null 2>&1 || apt_install maven
  mkdir -p "$DIST"
  exec 8>"$DIST/.lock"
  flock -w 600 8 || die "timed out waiting for another fetch of Kafka $KAFKA_VERSION ($DIST/.lock)"
  if libs_complete; then  # another process fetched while we waited for the lock
    exec 8>&-
    log "Kafka $KAFKA_VERSION jars cached in $LIBS"
    return 0
  fi
  local t0 tmp mvn_log
  t0="$(now_ms)"
  tmp="$DIST/libs.tmp.$$"
  mvn_log="$DIST/maven.log"
  rm -rf "$tmp"
  log "fetching Kafka $KAFKA_VERSION from Maven Central into $LIBS (Maven log: $mvn_log)"
  # A Maven local repository inside the cache keeps the cache self-contained.
  if ! mvn -B -q -f "$POM" -Dmaven.repo.local="$XINREN_CACHE_DIR/m2" \
      dependency:copy-dependencies -DoutputDirectory="$tmp" >"$mvn_log" 2>&1; then
    tail -n 30 "$mvn_log" >&2 || true
    rm -rf "$tmp"
    die "Maven could not fetch Kafka $KAFKA_VERSION (see $mvn_log)"
  fi
  local jar
  for jar in "kafka_2.13-$KAFKA_VERSION.jar" "kafka-server-$KAFKA_VERSION.jar" "kafka-tools-$KAFKA_VERSION.jar"; do
    [[ -f "$tmp/$jar" ]] || { rm -rf "$tmp"; die "Maven finished but $jar is missing"; }
  done
  compgen -G "$tmp/log4j-slf4j-impl-*.jar" >/dev/null || { rm -rf "$tmp"; die "log4j-slf4j-impl jar missing"; }
  rm -rf "$LIBS"
  mv "$tmp" "$LIBS"
  pom_hash >"$MARKER"
  exec 8>&-
  log "fetched $(find "$LIBS" -name '*.jar' | wc -l) jars in $(( ($(now_ms) - t0) / 1000 ))s"
}

# kafka_pid: prints the pid from the pid file if that process is our broker.
kafka_pid() {
  [[ -f "$PIDFILE" ]] || return 1
  local pid
  pid="$(tr -dc '0-9' <"$PIDFILE")"
  pid_alive "$pid" || return 1
  # Guard against pid reuse: the process must be a Kafka broker with our config.
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "kafka.Kafka $CONF" || return 1
  echo "$pid"
}

answers() {
  python3 "$INFRA_DIR/wait_kafka.py" --port "$KAFKA_PORT" --timeout "${1:-0}" --quiet ${2:+--pid "$2"}
}

print_log_tail() {
  local f
  for f in "$LOGS/server.log" "$LOGS/kafka.out"; do
    if [[ -s "$f" ]]; then
      echo "----- last lines of $f -----" >&2
      tail -n 40 "$f" >&2
    fi
  done
}

write_config() {
  cat >"$CONF" <<EOF
# Generated by infra/kafka.sh; rewritten on every start. Single-node KRaft
# cluster (broker + controller in one process) for development and tests.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$DATA

num.partitions=3
# One broker: one replica of everything. Production clusters use replication 3 with min.insync.replicas 2
# (deploy/docker-compose.yml and the services' KAFKA_REPLICATION_FACTOR / KAFKA_MIN_INSYNC_REPLICAS).
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=true
group.initial.rebalance.delay.ms=0
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=3
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1

# Light on a 2-core machine.
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
EOF
}

format_storage() {
  local stamp="controller=127.0.0.1:$KAFKA_CONTROLLER_PORT data=$DATA"
  if [[ -f "$DATA/meta.properties" ]]; then
    if [[ -f "$FORMAT_STAMP" && "$(cat "$FORMAT_STAMP")" == "$stamp" ]]; then
      return 0
    fi
    # The controller's address is written into the metadata log at format time.
    log "controller address changed since the storage was formatted: wiping $DATA (dev data only)"
    rm -rf "$DATA"
  fi
  mkdir -p "$DATA"
  local cid
  if [[ -s "$CLUSTER_ID_FILE" ]]; then
    cid="$(cat "$CLUSTER_ID_FILE")"
  else
    # Kafka cluster ids are 16 random bytes, base64url without padding; avoid a leading '-'.
    cid="$(python3 -c 'import base64,os
while True:
    s = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
    if not s.startswith("-"): print(s); break')"
    echo "$cid" >"$CLUSTER_ID_FILE"
  fi
  log "formatting storage in $DATA (cluster id $cid)"
  if ! java -Xmx256m -XX:TieredStopAtLevel=1 -cp "$LIBS/*" \
      -Dkafka.logs.dir="$LOGS" -Dlog4j2.configurationFile="$LOG4J_CONF" \
      kafka.tools.StorageTool format -t "$cid" -c "$CONF" --standalone \
      >"$LOGS/storage-format.out" 2>&1; then
    cat "$LOGS/storage-format.out" >&2
    die "formatting Kafka storage failed"
  fi
  echo "$stamp" >"$FORMAT_STAMP"
}

cmd_start() {
  local t0 pid
  t0="$(now_ms)"
  if pid="$(kafka_pid)"; then
    if answers 0; then
      log "already running (pid $pid) on 127.0.0.1:$KAFKA_PORT"
      return 0
    fi
    log "running (pid $pid) but not answering yet; waiting up to ${KAFKA_START_TIMEOUT}s"
    if answers "$KAFKA_START_TIMEOUT" "$pid"; then
      log "ready on 127.0.0.1:$KAFKA_PORT"
      return 0
    fi
    print_log_tail
    die "broker pid $pid does not answer on 127.0.0.1:$KAFKA_PORT; try: $0 stop && $0 start"
  fi
  rm -f "$PIDFILE"
  local p
  for p in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
    if port_open "$p"; then
      die "port $p on 127.0.0.1 is taken by another process (not a broker started from $XINREN_STATE_DIR); stop it or set KAFKA_PORT/KAFKA_CONTROLLER_PORT"
    fi
  done

  cmd_fetch
  require_java
  mkdir -p "$DATA" "$LOGS"
  write_config
  format_storage

  local -a jvm_opts
  # shellcheck disable=SC2206  # word splitting of the option strings is intended
  jvm_opts=($KAFKA_HEAP_OPTS -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20
    -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent
    -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true
    -Dkafka.logs.dir="$LOGS" -Dlog4j2.configurationFile="$LOG4J_CONF"
    ${KAFKA_OPTS:-})
  log "starting Kafka $KAFKA_VERSION on 127.0.0.1:$KAFKA_PORT (controller :$KAFKA_CONTROLLER_PORT, logs in $LOGS)"
  # Keep the previous run's stdout/stderr (JVM crashes, fatal errors) for one more start.
  [[ -f "$LOGS/kafka.out" ]] && mv -f "$LOGS/kafka.out" "$LOGS/kafka.out.1"
  # setsid: own session and process group, so a Ctrl-C in the calling shell
  # does not reach the broker; nohup + </dev/null: detach from the terminal.
  (cd "$KSTATE" && exec nohup setsid java "${jvm_opts[@]}" -cp "$LIBS/*" kafka.Kafka "$CONF" \
    >>"$LOGS/kafka.out" 2>&1 </dev/null) &
  pid=$!
  echo "$pid" >"$PIDFILE"

  local rc=0
  answers "$KAFKA_START_TIMEOUT" "$pid" || rc=$?
  if ((rc != 0)); then
    print_log_tail
    rm -f "$PIDFILE"
    if ((rc == 2)) || ! pid_alive "$pid"; then
      die "the Kafka process exited during startup (logs: $LOGS)"
    fi
    kill -KILL "$pid" 2>/dev/null || true
    die "Kafka did not become ready on 127.0.0.1:$KAFKA_PORT within ${KAFKA_START_TIMEOUT}s; killed it (logs: $LOGS)"
  fi
  log "ready on 127.0.0.1:$KAFKA_PORT (pid $pid) after $(( ($(now_ms) - t0) / 1000 ))s"
}

cmd_stop() {
  local pid
  if ! pid="$(kafka_pid)"; then
    rm -f "$PIDFILE"
    log "not running"
    return 0
  fi
  log "stopping (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  local i
  for ((i = 0; i < 80; i++)); do
    pid_alive "$pid" || break
    sleep 0.25
  done
  if pid_alive "$pid"; then
    log "still running after 20s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 20; i++)); do
      pid_alive "$pid" || break
      sleep 0.25
    done
  fi
  pid_alive "$pid" && die "could not stop pid $pid"
  rm -f "$PIDFILE"
  log "stopped"
}

cmd_status() {
  local pid
  if pid="$(kafka_pid)" && answers 0; then
    echo "kafka: running (pid $pid) on 127.0.0.1:$KAFKA_PORT, version $KAFKA_VERSION"
    return 0
  fi
  if [[ -n "${pid:-}" ]]; then
    echo "kafka: process $pid alive but not answering on 127.0.0.1:$KAFKA_PORT"
  else
    echo "kafka: not running"
  fi
  return 1
}

cmd_run_class() {
  [[ $# -ge 1 ]] || die "usage: $0 run-class CLASS [ARGS...]"
  cmd_fetch quiet
  require_java
  exec java -Xmx256m -XX:TieredStopAtLevel=1 -cp "$LIBS/*" "$@"
}

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

case "${1:-}" in
  fetch) cmd_fetch ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  run-class) shift; cmd_run_class "$@" ;;
  -h | --help | help) usage ;;
  *) usage ;;
esac
