#!/usr/bin/env bash
# Fleet benchmark, one invocation: `kafkactl deploy` of 20 instances per host (2 consumers at
# scale 10) from nothing, to 1 test host, to all 3 test hosts in parallel, and to all 3 one
# after another (--parallel 1, as Capistrano did it), best of 3 each; the same with 2
# instances per host (where the hosts' own work, which shares this machine's cores, is small
# next to kafkactl's connect/read/plan/apply); then the pure planning
# benchmark (100 hosts x 50 instances, benches/fleet_plan.rs). Runs on the local fleet of
# scripts/fleet-rig.sh (root); instances run tests/fixtures/fake-worker.sh (READY, no Kafka).
# Targets: all hosts <= 1.5x one host; planning < 1 s.
# Usage: scripts/bench-fleet.sh [--no-build]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
[ "${1:-}" = "--no-build" ] || cargo build --release --locked
K=$ROOT/target/release/kafkactl
bash scripts/fleet-rig.sh start >/dev/null 2>&1
eval "$(bash scripts/fleet-rig.sh env)"
SSH=(--known-hosts "$KAFKACTL_FLEET_KNOWN_HOSTS" -i "$KAFKACTL_FLEET_IDENTITY")
HOSTS="h1@127.0.0.11:2211, h2@127.0.0.12:2212, h3@127.0.0.13:2213"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

now() { date +%s.%N; }
elapsed() { echo "$2 - $1" | bc -l; }

manifest() { # $1 file, $2 scale
  cat >"$1" <<YAML
app: bench
roles:
  consumers: [$HOSTS]
defaults: {role: consumers, command: /bin/true}
consumers:
  - {name: bench_fleet_a, topic: a, scale: $2}
  - {name: bench_fleet_b, topic: b, scale: $2}
YAML
}
manifest "$WORK/up.yml" 10
manifest "$WORK/zero.yml" 0

# The real units on every host over SSH, then the stand-in worker (as tests/fleet.rs does).
"$K" --user -f "$WORK/zero.yml" install-units --fleet --proxy-config /dev/null "${SSH[@]}" >/dev/null
for n in 1 2 3; do
  unit=/home/h$n/.config/systemd/user/kafka-consumer@.service
  sed -i "s|^ExecStart=.*|ExecStart=$KAFKACTL_FLEET_DIR/bin/fake-worker.sh %i|; s|^NotifyAccess=main|NotifyAccess=all|; /^WatchdogSec=/d" "$unit"
  runuser -u "h$n" -- env XDG_RUNTIME_DIR="/run/user/$(id -u "h$n")" systemctl --user daemon-reload
done

reset() { "$K" --user -f "$WORK/zero.yml" deploy --no-restart "${SSH[@]}" >/dev/null 2>&1; }

UP=$WORK/up.yml
run() { # deploy arguments; prints the best of 3 in seconds
  local best=999 t0 t1 d
  for _ in 1 2 3; do
    reset
    t0=$(now)
    "$K" --user -f "$UP" deploy "${SSH[@]}" "$@" >"$WORK/out" 2>"$WORK/err" || {
      cat "$WORK/out" "$WORK/err" >&2
      exit 1
    }
    t1=$(now)
    d=$(elapsed "$t0" "$t1")
    best=$(echo "if ($d < $best) $d else $best" | bc -l)
  done
  echo "$best"
}

echo "== deploy 2 instances per host from nothing (best of 3)"
manifest "$WORK/small.yml" 1
UP=$WORK/small.yml
one_small=$(run --hosts h1@127.0.0.11:2211)
printf '   1 host:                       %.3f s\n' "$one_small"
all_small=$(run)
printf '   3 hosts in parallel:          %.3f s  (%.2fx one host; target <= 1.5x)\n' "$all_small" "$(echo "$all_small / $one_small" | bc -l)"
serial_small=$(run --parallel 1)
printf '   3 hosts one after another:    %.3f s  (%.2fx the parallel deploy)\n' "$serial_small" "$(echo "$serial_small / $all_small" | bc -l)"
UP=$WORK/up.yml

echo "== deploy 20 instances per host from nothing (best of 3)"
one=$(run --hosts h1@127.0.0.11:2211)
printf '   1 host:                       %.3f s\n' "$one"
all=$(run)
printf '   3 hosts in parallel:          %.3f s  (%.2fx one host; target <= 1.5x)\n' "$all" "$(echo "$all / $one" | bc -l)"
serial=$(run --parallel 1)
printf '   3 hosts one after another:    %.3f s  (%.2fx the parallel deploy)\n' "$serial" "$(echo "$serial / $all" | bc -l)"
reset
t0=$(now); "$K" --user -f "$WORK/up.yml" deploy "${SSH[@]}" >/dev/null 2>&1; t1=$(now)
t0=$(now); "$K" --user -f "$WORK/up.yml" deploy --batch-size 5 "${SSH[@]}" >/dev/null 2>&1; t1=$(now)
printf '   rolling restart of all 60 (--batch-size 5: 6 batches of 10): %.3f s\n' "$(elapsed "$t0" "$t1")"
t0=$(now); "$K" --user -f "$WORK/up.yml" deploy --dry-run --no-restart "${SSH[@]}" >/dev/null 2>&1 || true; t1=$(now)
printf '   dry run of a converged fleet (connect, read, plan): %.3f s\n' "$(elapsed "$t0" "$t1")"
reset
for pair in "2 per host:$all_small:$one_small" "20 per host:$all:$one"; do
  IFS=: read -r label a o <<<"$pair"
  verdict=$(echo "$a <= 1.5 * $o" | bc -l)
  [ "$verdict" = 1 ] && echo "   target ($label): PASS" || echo "   target ($label): MISS"
done

echo "== planning: 100 hosts x 50 instances, no I/O"
cargo bench --locked --bench fleet_plan 2>/dev/null | grep '^fleet plan'
