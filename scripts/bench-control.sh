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
sed -i "s|^ExecStart=.*|ExecStart=$ROOT/tests/fixtures/fake-worker.sh %i|; s|^NotifyAccess=main|NotifyAccess=all|; /^WatchdogSec=/d" "$UNIT"
systemctl --user daemon-reload
"$K" --user disable-and-stop >/dev/null 2>&1 || true

cat >"$WORK/manifest.yml" <<'YAML'
- name: bench_a
  scale: 50
- name: bench_b
  scale: 50
YAML

echo "== kafkactl spawn: 100 instances (enable + start, each start waited for)"
sp=$(pgrep -u "$(id -u)" -x systemd | head -1)
cpu0=$(awk '{print $14+$15}' "/proc/$sp/stat")
t0=$(now)
"$K" --user -f "$WORK/manifest.yml" spawn >/dev/null 2>"$WORK/spawn.err"
t1=$(now)
cpu1=$(awk '{print $14+$15}' "/proc/$sp/stat")
echo "   systemd's own CPU for these 100 starts: $(echo "($cpu1 - $cpu0) / $(getconf CLK_TCK)" | bc -l | cut -c1-5)s (the floor for any client)"
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

# On a host booted with systemd, `systemctl enable` goes through the manager (EnableUnitFiles
# plus a daemon-reload for every call). The rig removes the /run/systemd/system marker after
# the manager is up, which makes systemctl edit the symlinks offline and skip the reload; the
# loop is measured both ways, and the target is checked against a booted host's behaviour.
loop_spawn() { # $1 = consumer prefix
  local t0 t1
  t0=$(now)
  for c in "$1"_a "$1"_b; do for i in $(seq 1 50); do
    systemctl --user enable --now "kafka-consumer@$c:$i.service" 2>/dev/null
  done; done
  t1=$(now)
  elapsed "$t0" "$t1"
}
echo "== systemctl loop: 100 x systemctl --user enable --now (as on a booted host)"
marker_made=""
if [ ! -d /run/systemd/system ]; then mkdir -p /run/systemd/system; marker_made=yes; fi
s_spawn=$(loop_spawn loop)
[ -n "$marker_made" ] && rmdir /run/systemd/system
active_loop=$(systemctl --user list-units --state=active --plain --no-legend 'kafka-consumer@loop_*' | wc -l)
echo "   ${s_spawn}s, $active_loop active"
echo "== systemctl loop: the same, offline (the rig's default: no reload per call)"
s_spawn_offline=$(loop_spawn offl)
echo "   ${s_spawn_offline}s"

printf '\n%-44s %10s %10s %8s\n' "Measure" "kafkactl" "systemctl" "ratio"
printf '%-44s %9.3fs %9.3fs %7.1fx\n' "spawn 100 instances (booted-host systemctl)" "$k_spawn" "$s_spawn" "$(echo "$s_spawn / $k_spawn" | bc -l)"
printf '%-44s %9.3fs %9.3fs %7.1fx\n' "spawn 100 instances (offline systemctl)" "$k_spawn" "$s_spawn_offline" "$(echo "$s_spawn_offline / $k_spawn" | bc -l)"
printf '%-44s %9.3fs %9.3fs %7.1fx\n' "status of 100 instances" "$k_status" "$s_status" "$(echo "$s_status / $k_status" | bc -l)"
echo
echo "Targets"
if (( $(echo "$s_spawn / $k_spawn >= 5" | bc -l) )); then echo "  [PASS] spawn >= 5x faster than the loop"; else echo "  [FAIL] spawn >= 5x faster than the loop"; fi
if (( $(echo "$k_status <= 0.3" | bc -l) )); then echo "  [PASS] status of 100 instances <= 0.3 s"; else echo "  [FAIL] status of 100 instances <= 0.3 s"; fi
