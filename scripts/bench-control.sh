#!/usr/bin/env bash
# Control-plane benchmark, one invocation, inside a booted host (scripts/hosts.sh: a Debian 12
# container with systemd as PID 1; default h1) with kafkactl from its .deb:
#   1. system scope (the headline): `kafkactl spawn` of 100 instances (2 consumers x scale 50)
#      against a shell loop of `systemctl enable --now` over the same 100 instances, and
#      `kafkactl status` of the 100 (best of 5, the whole command) against a loop of
#      `systemctl show -p <the same properties>` over them; both sides run inside the host as
#      root, on the unit `kafkactl install-units --run-as app` wrote;
#   2. user scope: the same as `app` on app's own user manager (logind, `loginctl enable-linger
#      app`; its user bus from the image's dbus-user-session) with
#      `kafkactl --user` / `systemctl --user` (--system-only skips it).
# The manager's own CPU time for each spawn side is read from /proc (PID 1 of the host, or
# app's user@.service). Instances are the real `kafkactl worker` with a ten-line Python handler
# that acks every batch (the one scripts/bench-fleet.sh uses), against `kafkactl dev broker` on
# this machine; each start is done when the worker says READY (group joined, ~1 s).
# Targets: spawn >= 5x faster than the loop; status of 100 instances <= 0.3 s. Timings are
# printed, never asserted.
#
# Usage: scripts/bench-control.sh [--host hI] [--system-only] [--deb FILE] [--scale N]
#   --scale N  instances per consumer (default 50: 100 in all); smaller for a smoke run
# Needs root, target/release/kafkactl (for the dev broker) and the package (scripts/package-deb.sh
# builds both). Holds the hosts-tests lock (~/.cache/kafkactl/locks, the lock tests/hosts.rs takes) for the
# whole run, starts h1-h4 if needed (h4 persistent, as the tests want), and leaves nothing of its
# own running or enabled in the host.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

# The tests on the hosts take this lock with flock(2), one test at a time: hold it throughout.
LOCK_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/kafkactl/locks"
mkdir -p -m 700 "$LOCK_DIR"
LOCK="$LOCK_DIR/hosts-tests.lock"
if [ -z "${KAFKACTL_HOSTS_LOCK_HELD:-}" ]; then
  echo "[bench $(date +%H:%M:%S)] waiting for the hosts lock ($LOCK)" >&2
  exec env KAFKACTL_HOSTS_LOCK_HELD=1 flock "$LOCK" "$ROOT/scripts/bench-control.sh" "$@"
fi

HOST=h1 USER_PART=1 DEB="" SCALE=50
while [ $# -gt 0 ]; do
  case "$1" in
  --host) HOST=$2; shift 2 ;;
  --system-only) USER_PART=""; shift ;;
  --deb) DEB=$2; shift 2 ;;
  --scale) SCALE=$2; shift 2 ;;
  --no-build) shift ;; # the old flag: nothing is built any more
  *) echo "usage: $0 [--host hI] [--system-only] [--deb FILE] [--scale N]" >&2; exit 2 ;;
  esac
done

WORK=$(mktemp -d)
JOB_PID=""
source "$ROOT/scripts/bench-lib.sh"
[ "$(id -u)" = 0 ] || die "run as root (the hosts are containers)"
KAFKACTL=$ROOT/target/release/kafkactl
[ -x "$KAFKACTL" ] || die "no $KAFKACTL: build it (scripts/package-deb.sh builds it and the package)"
[ -n "$DEB" ] || DEB=$(find "$ROOT/target/debian" -name 'kafkactl_*_amd64.deb' -printf '%T@ %p\n' 2>/dev/null | sort -rn | head -1 | cut -d' ' -f2-)
if [ -z "$DEB" ] || [ ! -f "$DEB" ]; then die "no package (target/debian/kafkactl_*_amd64.deb): run scripts/package-deb.sh"; fi
HOSTS_SH=(bash "$ROOT/scripts/hosts.sh")

APP="" SETUP=""
cleanup() {
  local rc=$?
  set +e
  if [ -n "$SETUP" ]; then
    log "cleanup: the bench's instances disabled and stopped in $HOST"
    "${HOSTS_SH[@]}" exec "$HOST" bash "$APP/inner.sh" cleanup "$APP" >"$WORK/cleanup.log" 2>&1 ||
      { log "warning: cleanup in $HOST failed:"; tail -20 "$WORK/cleanup.log" >&2; }
  fi
  stop_broker
  [ -z "$APP" ] || rm -rf "$APP"
  if [ "$rc" = 0 ]; then rm -rf "$WORK"; else log "logs kept in $WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "starting h1-h4 if needed (h4 persistent)"
"${HOSTS_SH[@]}" start 4 --persistent h4 >"$WORK/start.log" 2>&1 ||
  die "hosts.sh start failed: $(tail -5 "$WORK/start.log")"
eval "$("${HOSTS_SH[@]}" env)"
# The same binary, not just the same version: a rebuild keeps the version.
want=$(sha256sum <"$KAFKACTL" | cut -d' ' -f1)
if [ "$("${HOSTS_SH[@]}" exec "$HOST" sh -c 'sha256sum </usr/bin/kafkactl' 2>/dev/null | cut -d' ' -f1 || true)" != "$want" ]; then
  log "installing $(basename "$DEB") on $HOST"
  "${HOSTS_SH[@]}" install-deb "$DEB" "$HOST" >"$WORK/install-deb.log" 2>&1 ||
    die "install-deb failed: $(tail -20 "$WORK/install-deb.log")"
fi

start_broker bench_a:4 bench_b:4
# The app in the shared directory: the same path inside the host, read-only there.
APP=$KAFKACTL_HOSTS_DIR/shared/bench-control
rm -rf "$APP"
mkdir -p "$APP/config"
cat >"$APP/config/kafka_consumers.yml" <<YAML
app: benchcontrol
brokers: [$BOOTSTRAP]
run_as: app
defaults:
  command: [/usr/bin/python3, handler.py]
  kafka: {group.protocol: consumer}
consumers:
  - {name: bench_a, topic: bench_a, scale: $SCALE}
  - {name: bench_b, topic: bench_b, scale: $SCALE}
YAML
cp "$ROOT/benches/ack_handler.py" "$APP/handler.py"

# What runs inside the host (as root; the user part runs `measure` again as app). Prints
# `RESULT SCOPE KEY VALUE` lines on stdout, progress on stderr.
cat >"$APP/inner.sh" <<'SH'
set -euo pipefail
MODE=$1 APP=$2 MGR_PID=${3:-1}
SCALE=$(awk '/scale:/ { gsub(/[^0-9]/, "", $NF); print $NF; exit }' "$APP/config/kafka_consumers.yml")
M=$APP/config/kafka_consumers.yml
APP_UID=$(id -u app)
USER_ENV=("XDG_RUNTIME_DIR=/run/user/$APP_UID" "DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/$APP_UID/bus")
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.4f", b - a }'; }
say() { echo "[$(hostname) $(date +%H:%M:%S)] $*" >&2; }
cpu_of() { # CPU seconds (user + sys) of PID so far
  awk -v hz="$(getconf CLK_TCK)" '{ printf "%.3f", ($14 + $15) / hz }' "/proc/$1/stat"
}

# measure SCOPE: both sides, with kafkactl/systemctl in SCOPE (system: as root, the manager is
# PID 1; user: as app, the manager is MGR_PID).
measure() {
  local scope=$1 S=() mgr
  if [ "$scope" = user ]; then S=(--user) mgr=$MGR_PID; else mgr=1; fi
  r() { echo "RESULT $scope $1 $2"; }
  clean() {
    kafkactl "${S[@]}" -f "$M" disable-and-stop -c bench_a >/dev/null 2>&1 || true
    kafkactl "${S[@]}" -f "$M" disable-and-stop -c bench_b >/dev/null 2>&1 || true
  }
  active() { systemctl "${S[@]}" list-units --state=active --plain --no-legend 'kafka-consumer@bench_*' | wc -l; }
  clean

  say "$scope: systemctl loop: $((2 * SCALE)) x systemctl ${S[*]} enable --now"
  local c0 t0 i c
  c0=$(cpu_of "$mgr") t0=$(now)
  for c in bench_a bench_b; do for i in $(seq 1 "$SCALE"); do
    systemctl "${S[@]}" enable --now "kafka-consumer@$c:$i.service" 2>/dev/null
  done; done
  r loop_spawn "$(since "$t0")"
  r loop_spawn_mgr_cpu "$(awk -v a="$c0" -v b="$(cpu_of "$mgr")" 'BEGIN { printf "%.3f", b - a }')"
  r loop_spawn_active "$(active)"

  say "$scope: systemctl loop: $((2 * SCALE)) x systemctl ${S[*]} show"
  t0=$(now)
  for c in bench_a bench_b; do for i in $(seq 1 "$SCALE"); do
    systemctl "${S[@]}" show "kafka-consumer@$c:$i.service" \
      -p ActiveState -p SubState -p MainPID -p MemoryCurrent -p CPUUsageNSec -p NRestarts \
      -p ActiveEnterTimestamp -p StatusText >/dev/null
  done; done
  r loop_status "$(since "$t0")"

  say "$scope: kafkactl ${S[*]} status, 5 times"
  local status_out spawn_log
  status_out=$(mktemp) spawn_log=$(mktemp)
  for _ in 1 2 3 4 5; do
    t0=$(now)
    NO_COLOR=1 kafkactl "${S[@]}" -f "$M" status >"$status_out" || true
    r k_status "$(since "$t0")"
  done
  r k_status_rows "$(grep -c 'bench_' "$status_out" || true)"
  rm -f "$status_out"

  say "$scope: disable-and-stop, then kafkactl ${S[*]} spawn"
  clean
  [ "$(active)" = 0 ] || { say "instances still active after disable-and-stop"; exit 1; }
  c0=$(cpu_of "$mgr") t0=$(now)
  kafkactl "${S[@]}" -f "$M" spawn >"$spawn_log" 2>&1 || { cat "$spawn_log" >&2; exit 1; }
  r k_spawn "$(since "$t0")"
  r k_spawn_mgr_cpu "$(awk -v a="$c0" -v b="$(cpu_of "$mgr")" 'BEGIN { printf "%.3f", b - a }')"
  r k_spawn_active "$(active)"
  rm -f "$spawn_log"
  clean
}

as_app() { runuser -u app -- env "${USER_ENV[@]}" "$@"; }

case "$MODE" in
system)
  say "system: kafkactl install-units --run-as app --workdir $APP"
  kafkactl -f "$M" install-units --kafkactl /usr/bin/kafkactl --run-as app --workdir "$APP" >/dev/null
  measure system
  ;;
user)
  # The image has dbus-user-session: app's manager activates its own bus on %t/bus.
  say "user: app's user manager and bus (loginctl enable-linger app)"
  loginctl enable-linger app
  # Up once the manager is on its bus (it joins when the socket-activated bus starts).
  for _ in $(seq 150); do
    as_app busctl --user call org.freedesktop.systemd1 /org/freedesktop/systemd1 \
      org.freedesktop.DBus.Peer Ping >/dev/null 2>&1 && break
    sleep 0.2
  done
  as_app kafkactl --user -f "$M" install-units --kafkactl /usr/bin/kafkactl --workdir "$APP" >/dev/null
  as_app bash "$0" user-measure "$APP" "$(systemctl show -p MainPID --value "user@$APP_UID.service")"
  ;;
user-measure) measure user ;;
cleanup)
  kafkactl -f "$M" disable-and-stop -c bench_a >/dev/null 2>&1 || true
  kafkactl -f "$M" disable-and-stop -c bench_b >/dev/null 2>&1 || true
  if [ -S "/run/user/$APP_UID/bus" ]; then
    as_app kafkactl --user -f "$M" disable-and-stop -c bench_a >/dev/null 2>&1 || true
    as_app kafkactl --user -f "$M" disable-and-stop -c bench_b >/dev/null 2>&1 || true
  fi
  loginctl disable-linger app 2>/dev/null || true
  units=$(getent passwd app | cut -d: -f6)/.config/systemd/user
  rm -f "$units"/kafka-consumer@.service "$units"/kafkactl-proxy.service \
    "$units"/default.target.wants/kafka-consumer@bench_*
  rmdir "$units"/*.wants "$units" "${units%/user}" "${units%/systemd/user}" 2>/dev/null || true
  left=$(systemctl list-units --all --plain --no-legend 'kafka-consumer@bench_*' | awk '$3 == "active"' | wc -l)
  [ "$left" = 0 ] || { say "$left bench instances still active"; exit 1; }
  ;;
esac
SH
chmod -R a+rX "$APP"
SETUP=1

run_inner() { # run_inner MODE: appends the host's RESULT lines to $WORK/results
  "${HOSTS_SH[@]}" exec "$HOST" bash "$APP/inner.sh" "$1" "$APP" >"$WORK/$1.out" 2> >(tee "$WORK/$1.err" >&2) ||
    die "$1 part in $HOST failed: $(tail -20 "$WORK/$1.err")"
  grep '^RESULT ' "$WORK/$1.out" >>"$WORK/results" || true
}

log "load before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"
: >"$WORK/results"
run_inner system
[ -z "$USER_PART" ] || run_inner user
log "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

get() { awk -v s="$1" -v k="$2" '$2 == s && $3 == k { print $4 }' "$WORK/results"; }
best() { get "$1" "$2" | sort -g | head -1; }

echo
N=$((2 * SCALE))
echo "Control plane inside $HOST (booted Debian 12, systemd $("${HOSTS_SH[@]}" exec "$HOST" systemctl --version | awk 'NR == 1 { print $2 }')), $N instances: real worker + Python handler"
for scope in system ${USER_PART:+user}; do
  ks=$(get "$scope" k_spawn) ls=$(get "$scope" loop_spawn)
  kst=$(best "$scope" k_status) lst=$(get "$scope" loop_status)
  label=$([ "$scope" = system ] && echo "system scope (root, PID 1)" || echo "user scope (app's user manager)")
  echo
  echo "== $label"
  printf '%-40s %10s %10s %8s\n' "Measure" "kafkactl" "systemctl" "ratio"
  printf '%-40s %9.3fs %9.3fs %7.1fx\n' "spawn $N instances" "$ks" "$ls" "$(calc "$ls / $ks")"
  printf '%-40s %9.3fs %9.3fs\n' "  the manager's own CPU meanwhile" "$(get "$scope" k_spawn_mgr_cpu)" "$(get "$scope" loop_spawn_mgr_cpu)"
  printf '%-40s %10s %10s\n' "  instances active afterwards" "$(get "$scope" k_spawn_active)" "$(get "$scope" loop_spawn_active)"
  printf '%-40s %9.3fs %9.3fs %7.1fx\n' "status of $N (kafkactl: best of 5)" "$kst" "$lst" "$(calc "$lst / $kst")"
  printf '%-40s %s\n' "  kafkactl status, all 5 runs" "$(get "$scope" k_status | tr '\n' ' ')($(get "$scope" k_status_rows) rows)"
  echo "Targets ($scope scope)"
  if [ "$(calc "$ls / $ks >= 5")" = 1 ]; then v=PASS; else v=FAIL; fi
  echo "  [$v] spawn >= 5x faster than the loop"
  if [ "$(calc "$kst <= 0.3")" = 1 ]; then v=PASS; else v=FAIL; fi
  echo "  [$v] status of $N instances <= 0.3 s"
done
