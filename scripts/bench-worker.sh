#!/usr/bin/env bash
# Benchmarks `kafkactl worker` with a trivial Ruby handler against the seed's design, a Ruby
# loop consuming through `kafkactl proxy` with one BLPOP + one ack per message, in one
# invocation: same broker, same pre-loaded messages (each side in its own consumer group), and
# librdkafka used directly (benches/direct_kafka.rs) on the same messages as the ceiling.
# Prints msgs/s, the ratios, and the worker's memory. See docs/benchmarks.md.
# The worker runs at batch size 1 in lockstep (batch.in_flight: 1) and pipelined (the default
# in_flight, or --in-flight N), and at batch size 100 pipelined.
#
#   scripts/bench-worker.sh [--quick] [--kafka] [--no-build] [--keep] [--in-flight N]
#
# The broker is the dev broker (librdkafka's mock cluster), or with --kafka Apache Kafka: one
# KRaft node started by scripts/kafka.sh in the work directory, the topic created through the
# Admin API, stopped at the end.
#
# Rates are steady-state: messages / (time of the last - time of the first), so the group
# join (about a second on the mock broker) counts for neither side. The worker's progress is
# read from its Prometheus endpoint (--metrics-listen) every 50 ms.
set -euo pipefail

QUICK=0 BUILD=1 KEEP=0 BROKER=dev IN_FLIGHT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --in-flight) IN_FLIGHT=${2:?--in-flight needs a number}; shift ;;
    --quick) QUICK=1 ;;
    --kafka) BROKER=kafka ;;
    --no-build) BUILD=0 ;;
    --keep) KEEP=1 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
    *) echo "bench: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
if [ "$QUICK" = 1 ]; then N=5000; else N=50000; fi
MSG_BYTES=100
TARGET_RATIO=10
TARGET_RSS_MB=20

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/bench-lib.sh
. "$ROOT/scripts/bench-lib.sh"
for tool in redis-cli ruby cargo awk timeout setsid; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found (scripts/deps.sh installs the Debian packages)"
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bench-worker.XXXXXX")
PROXY_PID="" JOB_PID="" WORKER_PID=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_pid "$JOB_PID" group
  stop_pid "$WORKER_PID"
  stop_pid "$PROXY_PID"
  stop_broker
  wait 2>/dev/null || true
  if [ "$KEEP" = 1 ] || [ "$rc" != 0 ]; then log "work directory kept: $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

build_release "$BUILD"
start_broker bench_worker:4
PROXY_CONFIG=$ROOT/examples/proxy.dev.json
start_proxy

log "pre-loading $N x $MSG_BYTES B into bench_worker (direct producer, round-robin)"
run_job 120 "$DIRECT" --bootstrap "$BOOTSTRAP" --mode produce --round-robin --topic bench_worker \
  --messages "$N" --size "$MSG_BYTES" >"$WORK/preload.out" 2>"$WORK/preload.err" ||
  die "pre-loading failed: $(tail -3 "$WORK/preload.err")"

# ------------------------------------------------------------------ the ceiling: librdkafka
log "direct librdkafka: consume the $N messages (BaseConsumer, its own group)"
run_job 120 "$DIRECT" --bootstrap "$BOOTSTRAP" --mode consume --topic bench_worker \
  --messages "$N" --size "$MSG_BYTES" >"$WORK/direct.out" 2>"$WORK/direct.err" ||
  die "direct_kafka consume failed: $(tail -3 "$WORK/direct.err")"
DIRECT_RATE=$(grep '^RESULT direct_consume' "$WORK/direct.out" | tr ' ' '\n' | awk -F= '$1 == "msgs_per_sec" { print $2 }')
log "direct librdkafka: $DIRECT_RATE msg/s"

# ------------------------------------------------------------------ the seed's loop, via proxy
log "Ruby loop through the proxy: BLPOP + RPUSH acks per message (rafka-rb's loop), 1 client"
rc=0
run_job 600 ruby "$ROOT/benches/ruby/consume_drain.rb" --port "$PORT" --topic bench_worker \
  --group bench-loop --clients 1 --expect "$N" --out "$WORK/loop" --timeout 1 --idle-polls 1 \
  --max-seconds 570 >"$WORK/loop.out" 2>"$WORK/loop.err" || rc=$?
LOOP_LINE=$(grep '^RESULT consume_drain' "$WORK/loop.out" | tail -1 || true)
[ -n "$LOOP_LINE" ] && [ "$rc" = 0 ] || die "the Ruby loop did not finish (rc $rc): $(tail -3 "$WORK/loop.err")"
LOOP_RATE=$(printf '%s\n' "$LOOP_LINE" | tr ' ' '\n' | awk -F= '$1 == "msgs_per_sec" { print $2 }')
log "Ruby loop: $LOOP_RATE msg/s"

# ------------------------------------------------------------------ the worker
metric() { # metric PORT NAME: a counter from the worker's Prometheus endpoint
  local reply
  reply=$(exec 3<>"/dev/tcp/127.0.0.1/$1" && printf 'GET /metrics HTTP/1.0\r\n\r\n' >&3 && cat <&3) || return 1
  printf '%s\n' "$reply" | awk -v k="kafkactl_$2_total{" 'index($0, k) == 1 { print $2 }'
}

cpu_ticks() { # cpu_ticks PID: user + system CPU of PID so far, in clock ticks
  awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0
}
TICK=$(getconf CLK_TCK)

# worker_run LABEL BATCH [IN_FLIGHT]: sets RATE, HWM_KB, RSS_KB, and WORKER_US, HANDLER_US (CPU
# per message of the worker and of its handler over the measured span) (no IN_FLIGHT: the
# default)
worker_run() {
  local label=$1 batch=$2 in_flight=${3:-} base port
  cat >"$WORK/$label.yml" <<YAML
app: bench
brokers: $BOOTSTRAP
consumers:
  - name: $label
    topic: bench_worker
    command: [ruby, $ROOT/benches/ruby/noop_consumer.rb]
    batch: {max_size: $batch, max_wait_ms: 50${in_flight:+, in_flight: $in_flight}}
    kafka: {group.protocol: consumer}
YAML
  base=$(free_port)
  port=$((base + 1))
  "$KAFKACTL" --log warn -f "$WORK/$label.yml" worker "$label:1" --metrics-listen "127.0.0.1:$base" \
    >"$WORK/$label.out" 2>"$WORK/$label.log" &
  WORKER_PID=$!
  local first="" t1="" done_at="" value deadline handler="" w0=0 h0=0 w1 h1
  deadline=$(($(date +%s) + 300))
  while :; do
    kill -0 "$WORKER_PID" 2>/dev/null || die "worker $label exited: $(tail -5 "$WORK/$label.log")"
    [ "$(date +%s)" -lt "$deadline" ] || die "worker $label did not finish in 300 s"
    value=$(metric "$port" processed 2>/dev/null || true)
    if [ -n "$value" ] && [ "$value" -gt 0 ]; then
      if [ -z "$first" ]; then
        first=$value t1=$(now)
        handler=$(pgrep -P "$WORKER_PID" | head -1 || true)
        w0=$(cpu_ticks "$WORKER_PID") h0=$(cpu_ticks "${handler:-0}")
      fi
      if [ "$value" -ge "$N" ]; then
        done_at=$(now) w1=$(cpu_ticks "$WORKER_PID") h1=$(cpu_ticks "${handler:-0}")
        break
      fi
    fi
    sleep 0.05
  done
  HWM_KB=$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$WORKER_PID/status")
  RSS_KB=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$WORKER_PID/status")
  if [ "$first" -ge "$N" ]; then
    die "worker $label handled everything between two samples; raise N"
  fi
  RATE=$(calc "($N - $first) / ($done_at - $t1)")
  WORKER_US=$(calc "($w1 - $w0) * 1000000 / $TICK / ($N - $first)")
  HANDLER_US=$(calc "($h1 - $h0) * 1000000 / $TICK / ($N - $first)")
  stop_pid "$WORKER_PID"
  wait "$WORKER_PID" 2>/dev/null || die "worker $label did not exit 0 on SIGTERM: $(tail -5 "$WORK/$label.log")"
  WORKER_PID=""
  log "worker $label (batch $batch, in_flight ${in_flight:-default}): $(printf '%.0f' "$RATE") msg/s, VmHWM $((HWM_KB / 1024)) MB, VmRSS $((RSS_KB / 1024)) MB, CPU per message: worker $(printf '%.1f' "$WORKER_US") us, handler $(printf '%.1f' "$HANDLER_US") us"
}

# The default in_flight, as the binary's manifest code has it (for the report).
DEFAULT_W=$(sed -n 's/^pub const DEFAULT_BATCH_IN_FLIGHT: u32 = \([0-9]*\);/\1/p' "$ROOT/src/manifest/mod.rs")
W=${IN_FLIGHT:-$DEFAULT_W}
worker_run lockstep 1 1
L1_RATE=$RATE L1_HWM=$HWM_KB L1_CPU="worker $(printf '%.1f' "$WORKER_US") us + handler $(printf '%.1f' "$HANDLER_US") us"
worker_run w1 1 "$IN_FLIGHT"
W1_RATE=$RATE W1_HWM=$HWM_KB W1_RSS=$RSS_KB W1_CPU="worker $(printf '%.1f' "$WORKER_US") us + handler $(printf '%.1f' "$HANDLER_US") us"
worker_run w100 100 "$IN_FLIGHT"
W100_RATE=$RATE W100_HWM=$HWM_KB

ratio() { calc "$1 / $LOOP_RATE"; }
pct() { awk -v a="$1" -v b="$DIRECT_RATE" 'BEGIN { printf "%.1f %%", 100 * a / b }'; }
verdict() { if awk "BEGIN { exit !($1) }"; then echo met; else echo MISSED; fi; }
RL=$(ratio "$L1_RATE") R1=$(ratio "$W1_RATE") R100=$(ratio "$W100_RATE")
MAX_HWM_MB=$(calc "(($W1_HWM > $W100_HWM ? $W1_HWM : $W100_HWM) > $L1_HWM ? ($W1_HWM > $W100_HWM ? $W1_HWM : $W100_HWM) : $L1_HWM) / 1024")
cat <<REPORT

== kafkactl worker vs the seed's Ruby loop ($N x $MSG_BYTES B, 4 partitions, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg))
broker: $BROKER_DESC
| consumer                                               | msg/s   | vs Ruby loop | vs direct |
|--------------------------------------------------------|---------|--------------|-----------|
| Ruby loop via kafkactl proxy (BLPOP + ack per message) | $(printf '%7.0f' "$LOOP_RATE") | 1.00x        | $(printf '%9s' "$(pct "$LOOP_RATE")") |
| kafkactl worker + Ruby handler, batch 1, in_flight 1   | $(printf '%7.0f' "$L1_RATE") | $(printf '%-12s' "$(printf '%.2f' "$RL")x") | $(printf '%9s' "$(pct "$L1_RATE")") |
| kafkactl worker + Ruby handler, batch 1, in_flight $(printf '%-3s' "$W") | $(printf '%7.0f' "$W1_RATE") | $(printf '%-12s' "$(printf '%.2f' "$R1")x") | $(printf '%9s' "$(pct "$W1_RATE")") |
| kafkactl worker + Ruby handler, batch 100, in_flight $(printf "%-1s" "$W") | $(printf "%7.0f" "$W100_RATE") | $(printf '%-12s' "$(printf '%.2f' "$R100")x") | $(printf '%9s' "$(pct "$W100_RATE")") |
| direct librdkafka (BaseConsumer, no handler)           | $(printf '%7.0f' "$DIRECT_RATE") | $(printf '%-12s' "$(printf '%.2f' "$(ratio "$DIRECT_RATE")")x") | 100.0 % |
worker memory: VmHWM $((L1_HWM / 1024)) MB (batch 1, in_flight 1), VmHWM $((W1_HWM / 1024)) MB / VmRSS $((W1_RSS / 1024)) MB (batch 1, in_flight $W), VmHWM $((W100_HWM / 1024)) MB (batch 100); the handler is a separate process
CPU per message at batch 1: in_flight 1: $L1_CPU; in_flight $W: $W1_CPU (both processes share $(nproc) CPUs)
target >= ${TARGET_RATIO}x: batch 1 in_flight $W $(verdict "$R1 >= $TARGET_RATIO") (in_flight 1: $(verdict "$RL >= $TARGET_RATIO")), batch 100 $(verdict "$R100 >= $TARGET_RATIO")
target worker RSS <= ${TARGET_RSS_MB} MB: $(verdict "$MAX_HWM_MB <= $TARGET_RSS_MB") (peak $(printf '%.1f' "$MAX_HWM_MB") MB)
REPORT
