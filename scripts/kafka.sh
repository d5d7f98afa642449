#!/usr/bin/env bash
# Apache Kafka itself (KRaft, no ZooKeeper) on loopback, for the tests, the drills, the
# benchmarks and `scripts/quickstart.sh --kafka`. The dev broker (`kafkactl dev broker`) is
# librdkafka's mock; this is the broker users run.
#
# Usage: scripts/kafka.sh COMMAND [--dir DIR] [--nodes 1|3] [--heap SIZE]
#
#   fetch           install a JDK and Maven from Debian if missing, and fetch Kafka's pinned
#                   version's jars with Maven into the cache (nothing to do when cached)
#   start           fetch, then start a cluster in DIR: one combined broker+controller node,
#                   or with --nodes 3 three combined nodes (replication factor 3,
#                   min.insync.replicas 2). Waits until every node serves; writes DIR/bootstrap
#   stop            stop every node of DIR (SIGTERM, then SIGKILL after 30 s); data stays
#   env             print `export KAFKACTL_BROKERS=...` for DIR:  eval "$(scripts/kafka.sh env)"
#   status          say which nodes of DIR run; exit 0 when all do, 3 otherwise
#   kill-node N     SIGKILL node N of DIR (drills: a broker crash)
#   start-node N    start node N of DIR again with its config and data, and wait until it serves
#   stop-node N     stop node N of DIR cleanly
#
# DIR defaults to .run/kafka in the repository. Ports are picked free at `start` time and kept
# in DIR, so `start-node` restarts a node on the same address. Broker logs go to
# DIR/node-N/server.log. Auto topic creation is OFF, as on most production clusters: create
# topics first (the tests use the Admin API).
#
# Cache: ${KAFKACTL_CACHE:-~/.cache/kafkactl}/kafka-<version>/ holds the jars (Maven's own
# ~/.m2 keeps the downloads too) and one formatted KRaft storage per node id, copied into DIR at
# start: formatting costs a JVM start (~4 s), and with a static controller quorum the formatted
# storage does not depend on the ports.
#
# Environment knobs: KAFKA_HEAP (default 512m), KAFKA_START_TIMEOUT (seconds, default 120),
# KAFKA_JVM_OPTS (extra JVM flags), KAFKA_NO_SETSID=1 (nodes stay in the caller's process group).
set -euo pipefail

KAFKA_VERSION="4.1.1"
# log4j2's slf4j 1.x binding: Kafka 4.1's broker code logs through slf4j 1.7 (no binding is a
# dependency of kafka_2.13), and without one nothing reaches the log file.
LOG4J_VERSION="2.24.3"

prog="kafka.sh"
repo="$(cd "$(dirname "$0")/.." && pwd)"
cache="${KAFKACTL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kafkactl}/kafka-$KAFKA_VERSION"
dir="$repo/.run/kafka"
nodes=1
heap="${KAFKA_HEAP:-512m}"
start_timeout="${KAFKA_START_TIMEOUT:-120}"

say() { echo "$prog: $*" >&2; }
die() {
  echo "$prog: error: $*" >&2
  exit 1
}

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2
  exit 2
}

sudo_if_needed() {
  if [ "$(id -u)" -ne 0 ]; then sudo "$@"; else "$@"; fi
}

java_major() {
  java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1
}

# Debian's packages, only what is missing: a JDK >= 17 (Kafka 4 needs it) and Maven.
install_tools() {
  local missing=()
  if ! command -v java >/dev/null 2>&1 || [ "$(java_major)" -lt 17 ]; then
    missing+=(openjdk-17-jre-headless)
  fi
  command -v mvn >/dev/null 2>&1 || missing+=(maven)
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    sudo_if_needed apt-get update -qq
    sudo_if_needed apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
  fi
}

cmd_fetch() {
  install_tools
  mkdir -p "$cache"
  # Tests start clusters in parallel: one fetch (and one format) at a time, the others wait.
  # The lock is held until the script exits or cmd_start releases it.
  exec 9>"$cache.lock"
  flock 9
  if [ -f "$cache/lib/.complete" ]; then
    return 0
  fi
  say "fetching Apache Kafka $KAFKA_VERSION with Maven into $cache/lib"
  local work
  work="$(mktemp -d)"
  cat >"$work/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>kafkactl.test</groupId>
  <artifactId>kafka-broker-jars</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>$LOG4J_VERSION</version>
    </dependency>
  </dependencies>
</project>
EOF
  rm -rf "$cache/lib"
  mkdir -p "$cache"
  (cd "$work" && mvn -q -B dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$cache/lib" </dev/null) || die "Maven could not fetch Kafka $KAFKA_VERSION"
  rm -rf "$work"
  touch "$cache/lib/.complete"
}

classpath() { echo "$cache/lib/*"; }

# The log4j2 config every node uses: the broker's log to DIR/node-N/server.log, the noisy
# request logger and the state-change log kept out of it.
write_log_config() {
  cat >"$dir/log4j2.properties" <<'EOF'
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.file.ref = file
logger.request.name = kafka.request.logger
logger.request.level = warn
logger.state.name = state.change.logger
logger.state.level = warn
EOF
}

# `count` free loopback ports, all held at once while picked so that they differ.
free_ports() {
  python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

# server.properties of node N (1-based) of a cluster of $nodes.
write_node_config() {
  local n="$1" voters="$2" port="$3" cport="$4"
  local rf=1 min_isr=1
  if [ "$nodes" -ge 3 ]; then
    rf=3
    min_isr=2
  fi
  mkdir -p "$dir/node-$n"
  cat >"$dir/node-$n/server.properties" <<EOF
# Written by scripts/kafka.sh: node $n of $nodes.
process.roles=broker,controller
node.id=$n
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/node-$n/data
# As on most production clusters: topics are created on purpose, not by a typo.
auto.create.topics.enable=false
num.partitions=1
default.replication.factor=$rf
min.insync.replicas=$min_isr
offsets.topic.replication.factor=$rf
# Fewer partitions than the default 50: the offsets topic is made at the first group's join.
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$min_isr
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$min_isr
# Test-friendly group timing (production keeps the defaults): no 3 s wait before a classic
# group's first assignment, short sessions allowed (Rafka's own test config uses 2 s), and
# KIP-848 heartbeats every 500 ms (as the dev broker) with a 10 s session, so a killed member
# is noticed quickly.
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=1000
group.consumer.min.heartbeat.interval.ms=500
group.consumer.heartbeat.interval.ms=500
group.consumer.min.session.timeout.ms=6000
group.consumer.session.timeout.ms=10000
# 64 MB segments (the default is 1 GB): the test data stays small on disk.
log.segment.bytes=67108864
EOF
}

# Copies node N's formatted KRaft storage from the cache (formatting it there the first time).
prepare_storage() {
  local n="$1"
  local template="$cache/formatted/node-$n"
  if [ ! -f "$template/meta.properties" ]; then
    say "formatting KRaft storage for node id $n (cached)"
    local tmp
    tmp="$(mktemp -d)"
    # Static voters: the formatted storage holds the cluster id and node id, not the ports.
    cat >"$tmp/format.properties" <<EOF
process.roles=broker,controller
node.id=$n
controller.quorum.voters=$n@127.0.0.1:1
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://127.0.0.1:2,CONTROLLER://127.0.0.1:1
log.dirs=$tmp/data
EOF
    java -Xmx256m -cp "$(classpath)" kafka.tools.StorageTool format \
      -t "a2Fma2FjdGwtdGVzdC0wMQ" -c "$tmp/format.properties" >"$tmp/format.log" 2>&1 ||
      die "formatting KRaft storage failed: $(cat "$tmp/format.log")"
    mkdir -p "$cache/formatted"
    rm -rf "$template"
    mv "$tmp/data" "$template"
    rm -rf "$tmp"
  fi
  rm -rf "$dir/node-$n/data"
  cp -a "$template" "$dir/node-$n/data"
}

node_pid() {
  local f="$dir/node-$1/pid"
  [ -f "$f" ] && cat "$f"
}

node_running() {
  local pid
  pid="$(node_pid "$1")" || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

launch_node() {
  local n="$1"
  local nd="$dir/node-$n"
  : >"$nd/server.log"
  # setsid: the node outlives this script and the shell that started it until `stop`. Tests
  # set KAFKA_NO_SETSID=1 so that a test killed by its runner takes its brokers along.
  local setsid=setsid
  [ "${KAFKA_NO_SETSID:-0}" = 1 ] && setsid=""
  # The node gets none of the caller's open descriptors beyond 0-2: it would hold them (a lock
  # the caller took, a pipe a test reads to its end) for as long as it runs.
  # shellcheck disable=SC2086
  (
    for fd_path in /proc/$BASHPID/fd/*; do
      fd="${fd_path##*/}"
      [ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-"
    done
    exec $setsid java -Xmx"$heap" -Xms64m -XX:+UseSerialGC -XX:+ExitOnOutOfMemoryError \
      -Djava.awt.headless=true -Dkafka.logs.dir="$nd" \
      -Dlog4j2.configurationFile="$dir/log4j2.properties" ${KAFKA_JVM_OPTS:-} \
      -cp "$(classpath)" kafka.Kafka "$nd/server.properties"
  ) </dev/null >"$nd/stdout.log" 2>&1 &
  echo $! >"$nd/pid"
}

# Waits until node N says it started (which, in KRaft, is after its broker is unfenced).
wait_node() {
  local n="$1"
  local nd="$dir/node-$n"
  local deadline=$((SECONDS + start_timeout))
  until grep -q "Kafka Server started" "$nd/server.log" 2>/dev/null; do
    if ! node_running "$n"; then
      tail -n 30 "$nd/server.log" "$nd/stdout.log" >&2 || true
      die "node $n exited during start (logs: $nd)"
    fi
    [ $SECONDS -lt $deadline ] || die "node $n did not start within ${start_timeout}s (logs: $nd)"
    sleep 0.2
  done
}

cluster_nodes() {
  local n
  for n in "$dir"/node-*; do
    [ -d "$n" ] && echo "${n##*-}"
  done
}

cmd_start() {
  cmd_fetch
  mkdir -p "$dir"
  local n
  for n in $(cluster_nodes); do
    node_running "$n" && die "a cluster already runs in $dir (scripts/kafka.sh stop --dir $dir)"
  done
  rm -rf "$dir"/node-* "$dir/bootstrap"
  write_log_config
  local ports voters="" bootstrap=""
  read -r -a ports <<<"$(free_ports $((nodes * 2)))"
  for n in $(seq 1 "$nodes"); do
    voters+="${voters:+,}$n@127.0.0.1:${ports[$((n * 2 - 1))]}"
    bootstrap+="${bootstrap:+,}127.0.0.1:${ports[$((n * 2 - 2))]}"
  done
  for n in $(seq 1 "$nodes"); do
    write_node_config "$n" "$voters" "${ports[$((n * 2 - 2))]}" "${ports[$((n * 2 - 1))]}"
    prepare_storage "$n"
    echo "127.0.0.1:${ports[$((n * 2 - 2))]}" >"$dir/node-$n/address"
  done
  # Release cmd_fetch's lock before the nodes start: they would inherit it and hold it.
  exec 9>&-
  for n in $(seq 1 "$nodes"); do launch_node "$n"; done
  for n in $(seq 1 "$nodes"); do wait_node "$n"; done
  echo "$bootstrap" >"$dir/bootstrap"
  say "Kafka $KAFKA_VERSION: $nodes node(s) serving at $bootstrap (logs: $dir/node-*/server.log)"
}

stop_one() {
  local n="$1" pid
  pid="$(node_pid "$n")" || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
  fi
}

wait_gone() {
  local n="$1" pid deadline=$((SECONDS + 30))
  pid="$(node_pid "$n")" || return 0
  while kill -0 "$pid" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then
      say "node $n did not stop within 30 s: killing it"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
  rm -f "$dir/node-$n/pid"
}

cmd_stop() {
  local n
  # All at once: a controller quorum that loses its peers one by one waits for them.
  for n in $(cluster_nodes); do stop_one "$n"; done
  for n in $(cluster_nodes); do wait_gone "$n"; done
}

cmd_env() {
  [ -f "$dir/bootstrap" ] || die "no cluster in $dir: run scripts/kafka.sh start first"
  echo "export KAFKACTL_BROKERS=$(cat "$dir/bootstrap")"
}

cmd_status() {
  local n all=0 any=0
  for n in $(cluster_nodes); do
    any=1
    if node_running "$n"; then
      echo "node $n: running (pid $(node_pid "$n"), $(cat "$dir/node-$n/address"))"
    else
      echo "node $n: stopped"
      all=3
    fi
  done
  [ $any -eq 1 ] || {
    echo "no cluster in $dir"
    exit 3
  }
  exit $all
}

need_node() {
  [ -n "${1:-}" ] && [ -d "$dir/node-$1" ] || die "no node '${1:-}' in $dir"
}

cmd=""
node_arg=""
while [ $# -gt 0 ]; do
  case "$1" in
  --dir)
    dir="$2"
    shift 2
    ;;
  --nodes)
    nodes="$2"
    shift 2
    ;;
  --heap)
    heap="$2"
    shift 2
    ;;
  -h | --help) usage ;;
  -*) die "unknown option $1" ;;
  *)
    if [ -z "$cmd" ]; then cmd="$1"; elif [ -z "$node_arg" ]; then node_arg="$1"; else usage; fi
    shift
    ;;
  esac
done
case "$nodes" in
1 | 3) ;;
*) die "--nodes must be 1 or 3, not '$nodes'" ;;
esac
mkdir -p "$(dirname "$dir")"
dir="$(cd "$(dirname "$dir")" && pwd)/$(basename "$dir")"

case "$cmd" in
fetch) cmd_fetch ;;
start) cmd_start ;;
stop) cmd_stop ;;
env) cmd_env ;;
status) cmd_status ;;
kill-node)
  need_node "$node_arg"
  pid="$(node_pid "$node_arg")" || die "node $node_arg is not running"
  kill -KILL "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  rm -f "$dir/node-$node_arg/pid"
  ;;
stop-node)
  need_node "$node_arg"
  stop_one "$node_arg"
  wait_gone "$node_arg"
  ;;
start-node)
  need_node "$node_arg"
  node_running "$node_arg" && die "node $node_arg already runs"
  launch_node "$node_arg"
  wait_node "$node_arg"
  ;;
*) usage ;;
esac
