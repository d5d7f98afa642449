#!/usr/bin/env bash
# Fleet benchmark, one invocation, on booted hosts (scripts/hosts.sh: Debian 12 containers with
# systemd as PID 1, the system bus and sshd on 127.0.1.N:22; kafkactl from its .deb), in the
# system scope, with 1, 2, 4 and 8 hosts:
#   - `kafkactl deploy` from nothing (every instance disabled and stopped before: a deploy of
#     the manifest at scale 0), best of 3;
#   - `deploy --no-restart` of the converged fleet (connect, read, plan, nothing to do: the
#     controller's own share), best of 3, with the machine's busy CPU share meanwhile;
#   - a rolling restart (`deploy` again, every running instance restarted) with --batch-size 1
#     (fleet-wide: one member of each consumer at a time, so 2 x hosts batches) and with
#     --batch-size HOSTS (always 2 batches), best of 3;
#   - for the deploy from nothing: the controller's own CPU time (user + sys of the `kafkactl
#     deploy` process, from getrusage) divided by the number of hosts, and the CPU time the
#     whole machine was busy meanwhile (/proc/stat: the hosts run on its cores), median of 3.
# Ratios are to one host of the same invocation.
# Instances: 4 per host by default (2 consumers x scale 2; --instances N: N per host, the odd
# one to the first consumer), each the real `kafkactl worker` from the
# package, run as `app` by the unit `kafkactl install-units --run-as app` wrote, with a
# ten-line Python handler that speaks the handler protocol and acks every batch
# (docs/handler-protocol.md), against `kafkactl dev broker` on this machine (the hosts share
# its network). The manifest and handler live in $KAFKACTL_HOSTS_DIR/shared/bench-fleet, which
# every host sees at the same path.
# Targets: deploy from nothing to 8 hosts <= 1.5x one host's wall time; controller CPU per host
# flat as hosts grow. Timings are printed, never asserted.
#
# Usage: scripts/bench-fleet.sh [--runs N] [--hosts "1 2 4 8"] [--instances PER_HOST] [--deb FILE]
#                               [--plan]
#   --plan  also run the pure planning benchmark (100 hosts x 50 instances, no I/O,
#           benches/fleet_plan.rs): `cargo bench`, which builds; off by default.
# Needs root, target/release/kafkactl (the controller) and the package (scripts/package-deb.sh
# builds both). Holds the hosts-tests lock (~/.cache/kafkactl/locks, the lock tests/hosts.rs takes) for the
# whole run; starts h1..h8 (h4 persistent, as the tests want), installs the package where
# /usr/bin/kafkactl differs from target/release/kafkactl, and at the end leaves nothing of its own deployed, stops the
# hosts above h4 that it booted, and keeps h1-h4 running.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

# The tests on the hosts take this lock with flock(2), one test at a time: hold it throughout.
LOCK_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/kafkactl/locks"
mkdir -p -m 700 "$LOCK_DIR"
LOCK="$LOCK_DIR/hosts-tests.lock"
if [ -z "${KAFKACTL_HOSTS_LOCK_HELD:-}" ]; then
  echo "[bench $(date +%H:%M:%S)] waiting for the hosts lock ($LOCK)" >&2
  exec env KAFKACTL_HOSTS_LOCK_HELD=1 flock "$LOCK" "$ROOT/scripts/bench-fleet.sh" "$@"
fi

RUNS=3 COUNTS="1 2 4 8" PLAN="" DEB="" PER_HOST=4
while [ $# -gt 0 ]; do
  case "$1" in
  --runs) RUNS=$2; shift 2 ;;
  --hosts) COUNTS=$2; shift 2 ;;
  --deb) DEB=$2; shift 2 ;;
  --plan) PLAN=1; shift ;;
  --instances) PER_HOST=$2; shift 2 ;;
  --no-build) shift ;; # the old flag: nothing is built any more
  *) echo "usage: $0 [--runs N] [--hosts \"1 2 4 8\"] [--instances PER_HOST] [--deb FILE] [--plan]" >&2; exit 2 ;;
  esac
done

WORK=$(mktemp -d)
JOB_PID=""
source "$ROOT/scripts/bench-lib.sh"
[ "$(id -u)" = 0 ] || die "run as root (the hosts are containers)"
KAFKACTL=$ROOT/target/release/kafkactl
K=$KAFKACTL
[ -x "$K" ] || die "no $K: build it (scripts/package-deb.sh builds it and the package)"
[ -n "$DEB" ] || DEB=$(find "$ROOT/target/debian" -name 'kafkactl_*_amd64.deb' -printf '%T@ %p\n' 2>/dev/null | sort -rn | head -1 | cut -d' ' -f2-)
if [ -z "$DEB" ] || [ ! -f "$DEB" ]; then die "no package in target/debian: run scripts/package-deb.sh"; fi
MAX=0
for n in $COUNTS; do [ "$n" -le "$MAX" ] || MAX=$n; done
HOSTS_SH=(bash "$ROOT/scripts/hosts.sh")

BOOTED=() APP="" SETUP=""
cleanup() {
  local rc=$?
  set +e
  if [ -n "$SETUP" ]; then
    log "cleanup: every bench instance disabled and stopped"
    reset || log "warning: the reset failed: $(tail -5 "$WORK/reset.log")"
  fi
  stop_broker
  if [ ${#BOOTED[@]} -gt 0 ]; then
    log "cleanup: stopping ${BOOTED[*]} (booted by this run)"
    "${HOSTS_SH[@]}" stop "${BOOTED[@]}" >"$WORK/stop.log" 2>&1 || cat "$WORK/stop.log" >&2
    # DIR/hosts and known_hosts back to h1-h4 (what the tests start).
    "${HOSTS_SH[@]}" start 4 --persistent h4 >>"$WORK/stop.log" 2>&1 || cat "$WORK/stop.log" >&2
  fi
  [ -z "$APP" ] || rm -rf "$APP"
  if [ "$rc" = 0 ]; then rm -rf "$WORK"; else log "logs kept in $WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------
# The hosts

running_before=$("${HOSTS_SH[@]}" status 2>/dev/null | awk -F: '/: running/ { print $1 }' || true)
UP=$((MAX > 4 ? MAX : 4)) # h1-h4 at least: the tests want them up
log "starting h1..h$UP (h4 persistent; hosts already up are left alone)"
"${HOSTS_SH[@]}" start "$UP" --persistent h4 >"$WORK/start.log" 2>&1 ||
  die "hosts.sh start failed: $(tail -5 "$WORK/start.log")"
for i in $(seq 5 "$UP"); do
  grep -qx "h$i" <<<"$running_before" || BOOTED+=("h$i")
done
eval "$("${HOSTS_SH[@]}" env)"
SSH=(--known-hosts "$KAFKACTL_HOSTS_KNOWN" -i "$KAFKACTL_HOSTS_KEY")

# The same binary, not just the same version: a rebuild keeps the version.
want=$(sha256sum <"$K" | cut -d' ' -f1)
stale=()
for i in $(seq 1 "$MAX"); do
  have=$("${HOSTS_SH[@]}" exec "h$i" sh -c 'sha256sum </usr/bin/kafkactl' 2>/dev/null | cut -d' ' -f1 || true)
  [ "$have" = "$want" ] || stale+=("h$i")
done
if [ ${#stale[@]} -gt 0 ]; then
  log "installing $(basename "$DEB") on ${stale[*]}"
  "${HOSTS_SH[@]}" install-deb "$DEB" "${stale[@]}" >"$WORK/install-deb.log" 2>&1 ||
    die "install-deb failed: $(tail -20 "$WORK/install-deb.log")"
fi

# ---------------------------------------------------------------------------------------------
# The app: manifest and handler in the shared directory (the same path on every host)

start_broker bench_fleet_a:16 bench_fleet_b:16
APP=$KAFKACTL_HOSTS_DIR/shared/bench-fleet
rm -rf "$APP"
mkdir -p "$APP/config"
cp "$ROOT/benches/ack_handler.py" "$APP/handler.py"
chmod -R a+rX "$APP"

manifest() { # manifest FILE HOSTS SCALE_A SCALE_B
  local hosts i
  hosts=$(for i in $(seq 1 "$2"); do printf 'root@127.0.1.%d, ' "$i"; done)
  cat >"$1" <<YAML
app: benchfleet
brokers: [$BOOTSTRAP]
run_as: app
roles:
  consumers: [${hosts%, }]
defaults:
  role: consumers
  command: [/usr/bin/python3, handler.py]
  kafka: {group.protocol: consumer}
consumers:
  - {name: bench_fleet_a, topic: bench_fleet_a, scale: $3}
  - {name: bench_fleet_b, topic: bench_fleet_b, scale: $4}
YAML
}
ZERO=$APP/config/zero.yml
manifest "$ZERO" "$MAX" 0 0
# PER_HOST instances on each host: bench_fleet_a gets the odd one.
for n in $COUNTS; do manifest "$APP/config/hosts-$n.yml" "$n" $(((PER_HOST + 1) / 2)) $((PER_HOST / 2)); done

reset() { # every instance of the bench's consumers on every host: disabled and stopped
  NO_COLOR=1 "$K" -f "$ZERO" deploy --no-restart "${SSH[@]}" >"$WORK/reset.log" 2>&1
}

# The units: install-units bakes this manifest's path (the same on every host) into them.
log "kafkactl install-units --fleet --run-as app on h1..h$MAX"
NO_COLOR=1 "$K" -f "$ZERO" install-units --fleet --kafkactl /usr/bin/kafkactl --run-as app \
  --workdir "$APP" "${SSH[@]}" >"$WORK/install-units.log" 2>&1 ||
  die "install-units failed: $(tail -20 "$WORK/install-units.log")"
SETUP=1
reset || die "the first reset failed: $(tail -20 "$WORK/reset.log")"

# timed LABEL CMD...: runs CMD (output to $WORK/LABEL.log) and prints "wall user sys busy" in
# seconds: wall clock around it, CPU of the process itself (getrusage of the waited child), and
# the CPU time the whole machine (both cores: hosts, broker, controller, anything else) was busy
# meanwhile (/proc/stat).
timed() {
  local label=$1
  shift
  /usr/bin/python3 - "$WORK/$label.log" "$@" <<'PY'
import os, resource, subprocess, sys, time
def busy():  # user nice system irq softirq steal, in seconds
    f = open("/proc/stat").readline().split()
    return sum(int(f[i]) for i in (1, 2, 3, 6, 7, 8)) / os.sysconf("SC_CLK_TCK")
env = dict(os.environ, NO_COLOR="1")
with open(sys.argv[1], "w") as log:
    b0, t0 = busy(), time.monotonic()
    rc = subprocess.call(sys.argv[2:], stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env)
    wall, b1 = time.monotonic() - t0, busy()
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"{wall:.4f} {ru.ru_utime:.4f} {ru.ru_stime:.4f} {b1 - b0:.2f}")
sys.exit(rc)
PY
}

deploy() { # deploy LABEL N [ARGS]: one timed deploy to h1..hN; sets WALL, CPU and BUSY
  local label=$1 n=$2 out
  shift 2
  out=$(timed "$label" "$K" -f "$APP/config/hosts-$n.yml" deploy "${SSH[@]}" "$@") ||
    die "$label failed: $(tail -20 "$WORK/$label.log")"
  read -r WALL user sys BUSY <<<"$out"
  CPU=$(calc "$user + $sys")
  grep -q "deploy: $n host(s) converged" "$WORK/$label.log" ||
    die "$label: not every host converged: $(tail -20 "$WORK/$label.log")"
}

active_count() { # instances active on h1..hN
  NO_COLOR=1 "$K" -f "$APP/config/hosts-$1.yml" status --fleet -o json "${SSH[@]}" 2>"$WORK/status.err" |
    jq '[.[] | select(.active_state == "active")] | length'
}

best() { printf '%s\n' "$@" | sort -g | head -1; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# ---------------------------------------------------------------------------------------------
# Measure

log "load before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"
declare -A NOTHING CPUH BUSYM PCTM NOOP NOOPPCT ROLL1 ROLLN
for n in $COUNTS; do
  walls=() cpus=() busys=() pcts=() noop=() noop_pcts=() r1=() rn=()
  for r in $(seq 1 "$RUNS"); do
    reset || die "reset failed: $(tail -20 "$WORK/reset.log")"
    deploy "nothing-$n-$r" "$n"
    walls+=("$WALL") cpus+=("$(calc "$CPU / $n")") busys+=("$BUSY") cpu=$CPU
    pcts+=("$(calc "100 * $BUSY / ($WALL * $(nproc))")")
    got=$(active_count "$n")
    [ "$got" = $((PER_HOST * n)) ] || die "deploy to $n host(s): $got instances active, not $((PER_HOST * n))"
    deploy "noop-$n-$r" "$n" --no-restart
    noop+=("$WALL") noop_pcts+=("$(calc "100 * $BUSY / ($WALL * $(nproc))")")
    deploy "roll1-$n-$r" "$n" --batch-size 1
    r1+=("$WALL")
    deploy "rolln-$n-$r" "$n" --batch-size "$n"
    rn+=("$WALL")
    log "$n host(s), run $r: from nothing ${walls[-1]} s (controller CPU $cpu s, machine busy ${busys[-1]} CPU-s), converged ${noop[-1]} s, rolling --batch-size 1 ${r1[-1]} s, --batch-size $n ${rn[-1]} s"
  done
  NOTHING[$n]=$(best "${walls[@]}") CPUH[$n]=$(median "${cpus[@]}") BUSYM[$n]=$(median "${busys[@]}")
  PCTM[$n]=$(median "${pcts[@]}")
  NOOP[$n]=$(best "${noop[@]}") NOOPPCT[$n]=$(median "${noop_pcts[@]}") ROLL1[$n]=$(best "${r1[@]}") ROLLN[$n]=$(best "${rn[@]}")
done
log "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

# ---------------------------------------------------------------------------------------------
# Report

first=${COUNTS%% *}
echo
echo "kafkactl deploy on booted hosts, system scope, $PER_HOST instance(s) per host (real worker + Python"
echo "handler). Wall: best of $RUNS; controller CPU (user + sys of kafkactl deploy) per host and the"
echo "machine's busy CPU time during the deploy ($(nproc) cores, everything on it; for the no-op deploy as"
echo "a share of all cores x wall): median of $RUNS."
echo "Ratios to $first host(s) in this run."
printf '%-5s | %-19s | %-21s | %-14s | %-25s | %-33s | %-19s\n' "" "deploy from nothing" "controller CPU/host" "machine busy" "converged: no-op deploy" "rolling restart, --batch-size 1" "rolling, --batch-size HOSTS"
printf '%-5s | %-19s | %-21s | %-14s | %-25s | %-33s | %-19s\n' "hosts" "wall       vs $first" "CPU        vs $first" "CPU-s   of max" "wall       vs $first  busy" "wall      batches   per batch" "wall       vs $first"
for n in $COUNTS; do
  printf -v c1 '%6.3f s  %6.2fx' "${NOTHING[$n]}" "$(calc "${NOTHING[$n]} / ${NOTHING[$first]}")"
  printf -v c2 '%6.1f ms  %6.2fx' "$(calc "${CPUH[$n]} * 1000")" "$(calc "${CPUH[$n]} / ${CPUH[$first]}")"
  printf -v c3 '%5.2f s  %4.0f%%' "${BUSYM[$n]}" "${PCTM[$n]}"
  printf -v c4 '%6.3f s  %6.2fx  %3.0f%%' "${NOOP[$n]}" "$(calc "${NOOP[$n]} / ${NOOP[$first]}")" "${NOOPPCT[$n]}"
  printf -v c5 '%6.3f s  %4d  %9.3f s' "${ROLL1[$n]}" $((2 * n)) "$(calc "${ROLL1[$n]} / (2 * $n)")"
  printf -v c6 '%6.3f s  %6.2fx' "${ROLLN[$n]}" "$(calc "${ROLLN[$n]} / ${ROLLN[$first]}")"
  printf '%-5s | %-19s | %-21s | %-14s | %-25s | %-33s | %-19s\n' "$n" "$c1" "$c2" "$c3" "$c4" "$c5" "$c6"
done
last=${COUNTS##* }
ratio=$(calc "${NOTHING[$last]} / ${NOTHING[$first]}")
echo
echo "Targets"
if [ "$(calc "$ratio <= 1.5")" = 1 ]; then v=PASS; else v=MISS; fi
printf '  [%s] deploy from nothing, %d hosts <= 1.5x %d host(s): %.2fx\n' "$v" "$last" "$first" "$ratio"
printf '  controller CPU per host, %d hosts vs %d: %.2fx (flat = 1.00x)\n' "$last" "$first" "$(calc "${CPUH[$last]} / ${CPUH[$first]}")"

if [ -n "$PLAN" ]; then
  echo
  echo "== planning: 100 hosts x 50 instances, no I/O (benches/fleet_plan.rs)"
  cargo bench --locked --bench fleet_plan 2>/dev/null | grep '^fleet plan'
fi
