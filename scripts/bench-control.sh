#!/usr/bin/env bash
# Control-plane benchmark, one invocation: spawn 100 instances and read the status of 100
# instances with kafkactl, against a shell loop of `systemctl --user enable --now` and
# `systemctl --user show` over the same number of units, on the real user manager of the
# test rig. Instances run tests/fixtures/fake-worker.sh (READY + STATUS, no Kafka).
# Usage: scripts/bench-control.sh [--no-build]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
[ "${1:-}" = "--no-build" ] || cargo build --release --locked
K=$ROOT/target/release/kafkactl
bash scripts/systemd-user.sh start >/dev/null
eval "$(bash scripts/systemd-user.sh env)"
WORK=$(mktemp -d)
cleanup() {
  "$K" --user disable-and-stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

now() { date +%s.%N; }
elapsed() { echo "$2 - $1" | bc -l; }

# The real units, with the stand-in worker (as the tests do).
"$K" --user install-units --proxy-config /dev/null >/dev/null
UNIT=${XDG_CONFIG_HOME:-$HOME/.config}/systemd/user/kafka-consumer@.service
sed -i "s|^ExecStart=.*|ExecStart=$ROOT/tests/fixtures/fake-worker.sh %i|; s|^NotifyAccess=main|NotifyAccess=all|" "$UNIT"
systemctl --user daemon-reload
"$K" --user disable-and-stop >/dev/null 2>&1 || true

cat >"$WORK/manifest.yml" <<'YAML'
- name: bench_a
  scale: 50
- name: bench_b
  scale: 50
YAML

echo "== kafkactl spawn: 100 instances (enable + start, each start waited for)"
t0=$(now)
"$K" --user -f "$WORK/manifest.yml" spawn >/dev/null 2>"$WORK/spawn.err"
t1=$(now)
k_spawn=$(elapsed "$t0" "$t1")
active=$(systemctl --user list-units --state=active --plain --no-legend 'kafka-consumer@bench_*' | wc -l)
echo "   ${k_spawn}s, $active active"

echo "== kafkactl status of 100 instances (table), best of 5"
# The whole command as an operator runs it: process start, bus connection, listing, 100
# statuses, the table. Best of 5 (the first run also warms the page cache).
best=999
for _ in 1 2 3 4 5; do
  t0=$(now)
  NO_COLOR=1 "$K" --user status >"$WORK/status.txt" || true
  t1=$(now)
  d=$(elapsed "$t0" "$t1"); best=$(echo "if ($d < $best) $d else $best" | bc -l)
done
k_status=$best
rows=$(grep -c 'kafka-consumer@' "$WORK/status.txt")
echo "   ${k_status}s for $rows instances"

echo "== systemctl loop: 100 x systemctl --user show (same properties)"
t0=$(now)
for c in bench_a bench_b; do for i in $(seq 1 50); do
  systemctl --user show "kafka-consumer@$c:$i.service" \
    -p ActiveState -p SubState -p MainPID -p MemoryCurrent -p CPUUsageNSec -p NRestarts \
    -p ActiveEnterTimestamp -p StatusText >/dev/null
done; done
t1=$(now)
s_status=$(elapsed "$t0" "$t1")
echo "   ${s_status}s"

echo "== systemctl loop: 100 x systemctl --user enable --now"
units=()
for c in loop_a loop_b; do for i in $(seq 1 50); do units+=("kafka-consumer@$c:$i.service"); done; done
t0=$(now)
for u in "${units[@]}"; do systemctl --user enable --now "$u" 2>/dev/null; done
t1=$(now)
s_spawn=$(elapsed "$t0" "$t1")
active_loop=$(systemctl --user list-units --state=active --plain --no-legend 'kafka-consumer@loop_*' | wc -l)
echo "   ${s_spawn}s, $active_loop active"

printf '\n%-44s %10s %10s %8s\n' "Measure" "kafkactl" "systemctl" "ratio"
printf '%-44s %9.3fs %9.3fs %7.1fx\n' "spawn 100 instances" "$k_spawn" "$s_spawn" "$(echo "$s_spawn / $k_spawn" | bc -l)"
printf '%-44s %9.3fs %9.3fs %7.1fx\n' "status of 100 instances" "$k_status" "$s_status" "$(echo "$s_status / $k_status" | bc -l)"
echo
echo "Targets"
if (( $(echo "$s_spawn / $k_spawn >= 5" | bc -l) )); then echo "  [PASS] spawn >= 5x faster than the loop"; else echo "  [FAIL] spawn >= 5x faster than the loop"; fi
if (( $(echo "$k_status <= 0.3" | bc -l) )); then echo "  [PASS] status of 100 instances <= 0.3 s"; else echo "  [FAIL] status of 100 instances <= 0.3 s"; fi
