#!/usr/bin/env bash
# Quickstart: the whole system on this machine, with one command.
#   scripts/quickstart.sh        build kafkactl, start a Kafka-protocol broker (`kafkactl dev
#                                broker`), a systemd user manager and the proxy
#                                (kafkactl-proxy.service), install the units, deploy
#                                examples/kafka_consumers.yml (the Ruby PriceDropsConsumer at
#                                scale 2), produce product-change events through the proxy with
#                                redis-cli, and show `kafkactl status --lag` as offsets move.
#                                Idempotent: run it again to redeploy and produce more.
#   scripts/quickstart.sh --kafka  the same on Apache Kafka itself: one KRaft node started by
#                                scripts/kafka.sh in .run/kafka (a JDK and Maven from Debian, the
#                                jars from Maven Central, cached), with the demo's topic created
#                                through the Admin API (auto topic creation is off there, as in
#                                production) by the direct_kafka bench binary's `--mode create`.
#                                Slower to start (a JVM), and what users run.
#   scripts/quickstart.sh down   stop everything it started (the Kafka node too).
# One broker at a time: switching between the dev broker and --kafka stops the other one (after
# the consumers were redeployed onto the new one).
# Settings: KAFKACTL_PROXY_PORT (default 6380), QUICKSTART_EVENTS (default 300 per round).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUN=$ROOT/.run
PORT=${KAFKACTL_PROXY_PORT:-6380}
EVENTS=${QUICKSTART_EVENTS:-300}
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/kafkactl
MANIFEST=$ROOT/examples/kafka_consumers.yml

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
indent() { sed 's/^/    /'; }
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop_one() {
  local name=$1 pidfile=$RUN/$1.pid
  if alive "$pidfile"; then
    kill -TERM "$(cat "$pidfile")"
    for _ in $(seq 1 100); do alive "$pidfile" || break; sleep 0.1; done
    if alive "$pidfile"; then kill -KILL "$(cat "$pidfile")"; fi
    say "stopped $name"
  fi
  rm -f "$pidfile"
}

down() {
  if [ -S "/run/user/$(id -u)/bus" ]; then
    eval "$(bash scripts/systemd-user.sh env)"
    if [ -x "$BIN" ] && systemctl --user cat kafka-consumer@.service >/dev/null 2>&1; then
      "$BIN" --user -f "$MANIFEST" disable-and-stop -c price_drops 2>&1 | indent || true
    fi
    systemctl --user stop kafkactl-proxy.service 2>/dev/null && say "stopped kafkactl-proxy.service"
    # What `up` put into the manager's environment would point later units at a stopped
    # broker.
    systemctl --user unset-environment KAFKACTL_PROXY_LISTEN KAFKACTL_BROKERS PRICE_DROPS_LOG
  fi
  stop_one broker
  stop_kafka
  rm -f "$RUN/bootstrap" "$RUN/price_drops.log"
}

# The Kafka node of `--kafka`, if one runs (its data and logs stay in .run/kafka until the next
# start).
stop_kafka() {
  if bash scripts/kafka.sh status --dir "$RUN/kafka" >/dev/null 2>&1; then
    bash scripts/kafka.sh stop --dir "$RUN/kafka"
    say "stopped Apache Kafka"
  fi
}

KAFKA=0
case "${1:-up}" in
  down) down; exit 0 ;;
  --kafka) KAFKA=1 ;;
  up) ;;
  *) echo "usage: scripts/quickstart.sh [--kafka|down]" >&2; exit 2 ;;
esac

say "installing Debian packages (if missing)"
bash scripts/deps.sh
say "building kafkactl (release)"
cargo build --release --locked
mkdir -p "$RUN"

if [ "$KAFKA" = 1 ]; then
  say "building the topic tool (cargo bench --bench direct_kafka --no-run: its --mode create)"
  DIRECT=$(cargo bench --bench direct_kafka --no-run --locked --message-format=json-render-diagnostics |
    grep -o '"executable":"[^"]*/direct_kafka-[^"]*"' | tail -1 | cut -d'"' -f4) ||
    { echo "building the direct_kafka bench binary failed" >&2; exit 1; }
  if bash scripts/kafka.sh status --dir "$RUN/kafka" >/dev/null 2>&1; then
    say "Apache Kafka runs already in $RUN/kafka (reused)"
  else
    say "starting Apache Kafka (scripts/kafka.sh start: one KRaft node, logs in $RUN/kafka)"
    bash scripts/kafka.sh start --dir "$RUN/kafka"
  fi
  cp "$RUN/kafka/bootstrap" "$RUN/bootstrap"
  say "creating topic product_changes (4 partitions) through the Admin API"
  "$DIRECT" --bootstrap "$(cat "$RUN/bootstrap")" --mode create --topic product_changes:4 2>&1 | indent
else
  if ! alive "$RUN/broker.pid"; then
    rm -f "$RUN/bootstrap"
    say "starting the dev broker (librdkafka's in-memory mock cluster)"
    setsid "$BIN" dev broker --topic product_changes:4 --address-file "$RUN/bootstrap" \
      </dev/null >"$RUN/broker.out" 2>"$RUN/broker.log" &
    echo $! >"$RUN/broker.pid"
    for _ in $(seq 1 100); do [ -s "$RUN/bootstrap" ] && break; sleep 0.1; done
  fi
  [ -s "$RUN/bootstrap" ] || { echo "dev broker did not start; see $RUN/broker.log" >&2; exit 1; }
fi
BOOTSTRAP=$(cat "$RUN/bootstrap")
echo "    bootstrap servers: $BOOTSTRAP"

say "starting a systemd user manager (reused when already running)"
bash scripts/systemd-user.sh start
eval "$(bash scripts/systemd-user.sh env)"

say "installing kafkactl's units (kafka-consumer@.service, kafkactl-proxy.service)"
# The proxy's config: the dev config with this broker's address.
sed "s|\"bootstrap.servers\": \"[^\"]*\"|\"bootstrap.servers\": \"$BOOTSTRAP\"|" \
  examples/proxy.dev.json >"$RUN/proxy.json"
# --force: this demo's user manager is the test rig's too, whose tests install the template
# for other manifests; install-units refuses to replace another app's template without it.
"$BIN" --user -f "$MANIFEST" install-units --force --proxy-config "$RUN/proxy.json" --workdir "$ROOT" | indent
# Units read these from the user manager's environment: the proxy's address, and the broker
# for workers (examples/kafka_consumers.yml leaves `brokers:` to KAFKACTL_BROKERS).
# PRICE_DROPS_LOG is where the demo's PriceDrop stand-in records what the consumers find.
systemctl --user set-environment "KAFKACTL_PROXY_LISTEN=127.0.0.1:$PORT" "KAFKACTL_BROKERS=$BOOTSTRAP" \
  "PRICE_DROPS_LOG=$RUN/price_drops.log"
export KAFKACTL_BROKERS=$BOOTSTRAP # for `status --lag` below

say "starting kafkactl-proxy.service on 127.0.0.1:$PORT"
# Restart: the broker's address may have changed since the last run.
if ! systemctl --user restart kafkactl-proxy.service; then
  systemctl --user status kafkactl-proxy.service --no-pager >&2 || true
  echo "kafkactl-proxy.service did not start (is port $PORT taken?)" >&2
  exit 1
fi
systemctl --user status kafkactl-proxy.service --no-pager 2>/dev/null | grep -E "Active|Status" | indent
redis-cli -p "$PORT" PING >/dev/null 2>&1 || { echo "proxy does not answer on $PORT" >&2; exit 1; }

say "deploying examples/kafka_consumers.yml: kafkactl --user deploy"
# Running instances are restarted in rolling batches: they pick up a new broker address.
"$BIN" --user -f "$MANIFEST" deploy | indent
# The other broker, if an earlier run used it: stopped only now, so that the consumers could
# still commit and leave their group there while the deploy restarted them onto this one.
if [ "$KAFKA" = 1 ]; then stop_one broker; else stop_kafka; fi

# produce_round N: EVENTS product-change events through the proxy, every third a price drop.
produce_round() {
  local round=$1 i replies
  replies=$(for i in $(seq 1 "$EVENTS"); do
    local id=$((round * 100000 + i)) old=$((100 + i % 50))
    local new=$((i % 3 == 0 ? old - 10 : old + 5))
    printf "RPUSHX topics:product_changes '{\"id\":%d,\"old_price\":%d,\"new_price\":%d}'\n" "$id" "$old" "$new"
  done | redis-cli -p "$PORT")
  if [ "$(printf '%s\n' "$replies" | grep -cx 1)" != "$EVENTS" ]; then
    echo "the proxy refused events: $(printf '%s\n' "$replies" | grep -vx 1 | sort | uniq -c | head -3)" >&2
    exit 1
  fi
  redis-cli -p "$PORT" DUMP 10000 >/dev/null
  echo "    $EVENTS events produced (e.g. {\"id\":$((round * 100000 + 3)),\"old_price\":103,\"new_price\":93})"
}

for round in 1 2; do
  say "producing $EVENTS product-change events through the proxy (round $round): redis-cli RPUSHX topics:product_changes '{...}'"
  produce_round "$round"
  sleep 3 # the workers commit every second
  say "kafkactl --user status --lag"
  "$BIN" --user -f "$MANIFEST" status --lag | indent
done

say "the consumers' STATUS lines"
for n in 1 2; do
  systemctl --user show -p StatusText --value "kafka-consumer@price_drops:$n.service" | indent
done
if [ -s "$RUN/price_drops.log" ]; then
  say "price drops found by the Ruby PriceDropsConsumer ($(wc -l <"$RUN/price_drops.log") so far, in $RUN/price_drops.log)"
  tail -3 "$RUN/price_drops.log" | indent
fi
say "the whole system is running. Next:"
echo "    eval \"\$(scripts/systemd-user.sh env)\"   # then: systemctl --user status 'kafka-consumer@*'"
echo "    target/release/kafkactl --user -f examples/kafka_consumers.yml status --lag"
echo "    redis-cli -p $PORT                                 # talk to the proxy"
echo "    scripts/quickstart.sh down                          # stop everything"
if [ "$KAFKA" = 1 ]; then
  echo "    less .run/kafka/node-1/server.log                  # the Kafka broker's log"
fi
