# Shell helpers shared by the benchmark scripts (sourced, not run). The caller sets ROOT and
# WORK and keeps JOB_PID in its cleanup.

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

stop_pid() { # stop_pid PID [group]: TERM, wait up to 10 s, then KILL
  local pid=$1 group=${2:-}
  [ -n "$pid" ] || return 0
  kill -0 "$pid" 2>/dev/null || return 0
  if [ -n "$group" ]; then kill -TERM -- "-$pid" 2>/dev/null || true; else kill -TERM "$pid" 2>/dev/null || true; fi
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  if [ -n "$group" ]; then kill -KILL -- "-$pid" 2>/dev/null || true; else kill -KILL "$pid" 2>/dev/null || true; fi
}

run_job() { # run_job SECONDS CMD...: runs in its own session, killable as a group
  local secs=$1
  shift
  setsid timeout --kill-after=10 "$secs" "$@" &
  JOB_PID=$!
  local rc=0
  wait "$JOB_PID" || rc=$?
  JOB_PID=""
  return "$rc"
}

executable_of() { # executable_of TARGET < cargo --message-format=json output
  ruby -rjson -e 'name = ARGV[0]; STDIN.each_line { |l| j = (JSON.parse(l) rescue next)
    puts j["executable"] if j["reason"] == "compiler-artifact" && j["executable"] && j.dig("target", "name") == name }' "$1" | tail -1
}

# build_release BUILD: sets KAFKACTL and DIRECT (the direct_kafka bench binary).
build_release() {
  if [ "$1" = 1 ]; then
    log "building (cargo build --release; cargo bench --bench direct_kafka --no-run)"
    KAFKACTL=$(cargo build --release --bin kafkactl --message-format=json-render-diagnostics | executable_of kafkactl) ||
      die "cargo build --release failed"
    DIRECT=$(cargo bench --bench direct_kafka --no-run --message-format=json-render-diagnostics | executable_of direct_kafka) ||
      die "cargo bench --bench direct_kafka --no-run failed (is the [[bench]] stanza in Cargo.toml?)"
  else
    local target_dir=${CARGO_TARGET_DIR:-$ROOT/target}
    KAFKACTL=$target_dir/release/kafkactl
    DIRECT=$(ls -t "$target_dir"/release/deps/direct_kafka-* 2>/dev/null | grep -v '\.d$' | head -1 || true)
  fi
  [ -x "$KAFKACTL" ] || die "no kafkactl binary (${KAFKACTL:-none}); run without --no-build"
  [ -n "$DIRECT" ] && [ -x "$DIRECT" ] || die "no direct_kafka bench binary; run without --no-build"
}

free_port() {
  ruby -rsocket -e 's = TCPServer.new("127.0.0.1", 0); puts s.addr[1]; s.close'
}

# start_broker TOPIC:PARTITIONS...: starts the broker BROKER names (the caller's --kafka):
#   dev    `kafkactl dev broker` with these topics (librdkafka's mock cluster; the default);
#   kafka  Apache Kafka, one KRaft node started by scripts/kafka.sh in $WORK/kafka, with the
#          topics created through the Admin API by `direct_kafka --mode create` (auto topic
#          creation is off there).
# Sets BOOTSTRAP and BROKER_DESC; stop it with stop_broker.
BROKER=${BROKER:-dev} BROKER_PID="" KAFKA_DIR=""
start_broker() {
  if [ "$BROKER" = kafka ]; then
    KAFKA_DIR=$WORK/kafka
    log "starting Apache Kafka (scripts/kafka.sh start --dir $KAFKA_DIR)"
    bash "$ROOT/scripts/kafka.sh" start --dir "$KAFKA_DIR" >"$WORK/kafka-start.log" 2>&1 ||
      die "scripts/kafka.sh start failed: $(tail -5 "$WORK/kafka-start.log")"
    BOOTSTRAP=$(cat "$KAFKA_DIR/bootstrap")
    local IFS=,
    log "creating topics $* (direct_kafka --mode create)"
    "$DIRECT" --bootstrap "$BOOTSTRAP" --mode create --topic "$*" >"$WORK/create-topics.log" 2>&1 ||
      die "creating topics failed: $(tail -5 "$WORK/create-topics.log")"
    BROKER_DESC="Apache Kafka $(sed -n 's/^KAFKA_VERSION="\(.*\)"/\1/p' "$ROOT/scripts/kafka.sh"), 1 KRaft node (scripts/kafka.sh), on this machine"
    return
  fi
  [ "$BROKER" = dev ] || die "unknown broker '$BROKER'"
  local args=()
  for t in "$@"; do args+=(--topic "$t"); done
  log "starting the dev broker (mock cluster)"
  "$KAFKACTL" --log warn dev broker --address-file "$WORK/broker.addr" "${args[@]}" \
    >"$WORK/broker.out" 2>"$WORK/broker.log" &
  BROKER_PID=$!
  for _ in $(seq 200); do
    [ -s "$WORK/broker.addr" ] && break
    kill -0 "$BROKER_PID" 2>/dev/null || die "dev broker exited: $(tail -5 "$WORK/broker.log")"
    sleep 0.1
  done
  [ -s "$WORK/broker.addr" ] || die "dev broker did not write its address"
  BOOTSTRAP=$(head -1 "$WORK/broker.addr")
  BROKER_DESC="kafkactl dev broker (librdkafka mock cluster)"
}

stop_broker() {
  stop_pid "$BROKER_PID"
  if [ -n "$KAFKA_DIR" ] && [ -d "$KAFKA_DIR" ]; then
    bash "$ROOT/scripts/kafka.sh" stop --dir "$KAFKA_DIR" >>"$WORK/kafka-start.log" 2>&1 || true
  fi
}

# start_proxy: starts `kafkactl proxy` on a free port against BOOTSTRAP (PROXY_CONFIG, if set,
# is its -c file); sets PROXY_PID, PORT and RCLI.
start_proxy() {
  PORT=$(free_port)
  log "starting the proxy on 127.0.0.1:$PORT (brokers $BOOTSTRAP)"
  local args=(--listen "127.0.0.1:$PORT" --brokers "$BOOTSTRAP")
  [ -z "${PROXY_CONFIG:-}" ] || args+=(--config "$PROXY_CONFIG")
  "$KAFKACTL" --log warn proxy "${args[@]}" >"$WORK/proxy.out" 2>"$WORK/proxy.log" &
  PROXY_PID=$!
  RCLI=(redis-cli -h 127.0.0.1 -p "$PORT")
  for _ in $(seq 200); do
    [ "$("${RCLI[@]}" PING 2>/dev/null)" = PONG ] && break
    kill -0 "$PROXY_PID" 2>/dev/null || die "proxy exited: $(tail -5 "$WORK/proxy.log")"
    sleep 0.1
  done
  [ "$("${RCLI[@]}" PING 2>/dev/null)" = PONG ] || die "proxy does not answer PING"
}

now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%s\", ($1) }"; }
