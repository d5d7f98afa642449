#!/usr/bin/env bash
# Quickstart: builds kafkactl, starts a local Kafka-protocol broker (`kafkactl dev broker`), a
# systemd user manager (scripts/systemd-user.sh), installs kafkactl's units into it and runs
# the proxy as kafkactl-proxy.service (Type=notify), then shows a produce -> consume -> ack
# roundtrip through redis-cli.
#   scripts/quickstart.sh        start everything (idempotent) and run the demo
#   scripts/quickstart.sh down   stop what it started
# Settings: KAFKACTL_PROXY_PORT (default 6380).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUN=$ROOT/.run
PORT=${KAFKACTL_PROXY_PORT:-6380}
BIN=$ROOT/target/release/kafkactl

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

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
  if [ -S /run/user/$(id -u)/bus ]; then
    eval "$(bash scripts/systemd-user.sh env)"
    systemctl --user stop kafkactl-proxy.service 2>/dev/null && say "stopped kafkactl-proxy.service"
  fi
  stop_one proxy # a proxy started by an older quickstart
  stop_one broker
  rm -f "$RUN/bootstrap"
}

if [ "${1:-up}" = "down" ]; then
  down
  exit 0
fi

say "installing Debian packages (if missing)"
bash scripts/deps.sh
say "building kafkactl (release)"
cargo build --release --locked
mkdir -p "$RUN"

if ! alive "$RUN/broker.pid"; then
  rm -f "$RUN/bootstrap"
  say "starting the dev broker (librdkafka's in-memory mock cluster)"
  setsid "$BIN" dev broker --topic greetings:4 --address-file "$RUN/bootstrap" \
    </dev/null >"$RUN/broker.out" 2>"$RUN/broker.log" &
  echo $! >"$RUN/broker.pid"
  for _ in $(seq 1 100); do [ -s "$RUN/bootstrap" ] && break; sleep 0.1; done
fi
[ -s "$RUN/bootstrap" ] || { echo "dev broker did not start; see $RUN/broker.log" >&2; exit 1; }
BOOTSTRAP=$(cat "$RUN/bootstrap")
echo "    bootstrap servers: $BOOTSTRAP"

say "starting a systemd user manager (reused when already running)"
bash scripts/systemd-user.sh start
eval "$(bash scripts/systemd-user.sh env)"

say "installing kafkactl's units and starting kafkactl-proxy.service on 127.0.0.1:$PORT"
# The proxy's config: the dev config with this broker's address.
sed "s|\"bootstrap.servers\": \"[^\"]*\"|\"bootstrap.servers\": \"$BOOTSTRAP\"|" \
  examples/proxy.dev.json >"$RUN/proxy.json"
"$BIN" --user -f examples/kafka_consumers.yml install-units --proxy-config "$RUN/proxy.json" \
  --workdir "$ROOT" | sed 's/^/    /'
systemctl --user set-environment "KAFKACTL_PROXY_LISTEN=127.0.0.1:$PORT"
# Restart: the broker's address may have changed since the last run.
if ! systemctl --user restart kafkactl-proxy.service; then
  systemctl --user status kafkactl-proxy.service --no-pager >&2 || true
  echo "kafkactl-proxy.service did not start (is port $PORT taken?)" >&2
  exit 1
fi
systemctl --user status kafkactl-proxy.service --no-pager 2>/dev/null | grep -E "Loaded|Active|Status|Main PID" | sed 's/^/    /'
redis-cli -p "$PORT" PING >/dev/null 2>&1 || { echo "proxy does not answer on $PORT" >&2; exit 1; }

VALUE="Hello there! ($(date +%T))"
say "produce:  redis-cli RPUSHX topics:greetings \"$VALUE\""
redis-cli -p "$PORT" RPUSHX topics:greetings "$VALUE"
say "flush:    redis-cli DUMP 5000   (0 = everything delivered)"
redis-cli -p "$PORT" DUMP 5000

say "consume:  CLIENT SETNAME quickstart:demo, then BLPOP until our message, acking each"
coproc CLI { redis-cli -p "$PORT"; }
send() { echo "$*" >&"${CLI[1]}"; }
recv() { read -r -t 15 line <&"${CLI[0]}" && printf '%s' "$line"; }
send "CLIENT SETNAME quickstart:demo"
echo "    CLIENT SETNAME -> $(recv)"
found=""
for _ in $(seq 1 50); do
  send "BLPOP topics:greetings 5"
  first=$(recv)
  [ -z "$first" ] && continue # timeout: redis-cli prints an empty line for the null array
  topic=$(recv); recv >/dev/null; partition=$(recv); recv >/dev/null; offset=$(recv)
  recv >/dev/null; value=$(recv)
  echo "    BLPOP -> topic=$topic partition=$partition offset=$offset value=\"$value\""
  send "RPUSH acks $topic:$partition:$offset"
  echo "    RPUSH acks $topic:$partition:$offset -> $(recv)"
  if [ "$value" = "$VALUE" ]; then found=yes; break; fi
done
send "QUIT"; recv >/dev/null || true
[ -n "$found" ] || { echo "did not receive the message back; see $RUN/proxy.log" >&2; exit 1; }

say "stats:    redis-cli HGETALL stats"
redis-cli -p "$PORT" HGETALL stats | paste - - | awk '{ printf "    %-30s %s\n", $1, $2 }'
say "roundtrip OK. The broker and the proxy keep running:"
echo "    redis-cli -p $PORT                              # talk to the proxy"
echo "    eval \"\$(scripts/systemd-user.sh env)\"; systemctl --user status kafkactl-proxy"
echo "    scripts/quickstart.sh down                       # stop them"
