#!/usr/bin/env bash
# A real systemd user manager for the current user, for kafkactl's control-plane tests and for
# trying `kafkactl spawn/status/...` locally on a machine where systemd is not PID 1 (CI, containers).
#
# Usage: scripts/systemd-user.sh start|stop|env|status
#
#   start   bring up ONE user manager for this user (idempotent: a running, reachable manager is
#           reused, never duplicated), with its session bus on $XDG_RUNTIME_DIR/bus, waiting
#           (bounded) until org.freedesktop.systemd1 answers there.
#   env     print `export XDG_RUNTIME_DIR=...` and `export DBUS_SESSION_BUS_ADDRESS=...` lines:
#               eval "$(scripts/systemd-user.sh env)"
#   status  say what is running; exit 0 when the manager answers on the bus, 3 otherwise.
#   stop    stop the manager that `start` started (its pid file); it stops its units and its
#           bus on the way out. A manager this script did not start is left alone.
#
# How it works on a machine whose PID 1 is not systemd (see shared/notes/test-rig.md): systemd
# refuses to start a user instance unless /run/systemd/system exists, so `start` creates that
# marker and removes it again once the manager is up (the marker is only read at start-up, and
# while it exists Debian maintainer scripts try to talk to a system manager that isn't there).
# The session bus is the manager's own dbus.socket/dbus.service, as Debian's dbus-user-session
# package ships them (written to the runtime unit dir, so only the 'dbus' package is needed):
# systemd registers org.freedesktop.systemd1 only on a bus it runs itself (see cmd_start).
# When PID 1 *is* systemd, root's manager is started the normal way (user@UID.service).
#
# Environment knobs: KAFKACTL_RIG_TIMEOUT (seconds to wait for the manager, default 30).
# Files: $XDG_RUNTIME_DIR/kafkactl-rig/systemd.pid, and systemd.log with the units' output
# (no journald here); the manager's own messages go to the kernel log (dmesg | grep systemd).
set -euo pipefail

prog="systemd-user.sh"
uid="$(id -u)"
runtime_dir="/run/user/$uid"
bus_path="$runtime_dir/bus"
bus_addr="unix:path=$bus_path"
state_dir="$runtime_dir/kafkactl-rig"
marker="/run/systemd/system"
timeout="${KAFKACTL_RIG_TIMEOUT:-30}"

made_marker=0

say() { echo "$prog: $*" >&2; }
die() {
  echo "$prog: error: $*" >&2
  # Never leave behind a marker this run created (it fools Debian's maintainer scripts).
  [ "$made_marker" -eq 1 ] && rmdir "$marker" 2>/dev/null
  exit 1
}

systemd_bin() {
  local b
  for b in /usr/lib/systemd/systemd /lib/systemd/systemd; do
    [ -x "$b" ] && {
      echo "$b"
      return 0
    }
  done
  return 1
}

need_tools() {
  systemd_bin >/dev/null || die "systemd is not installed (no /usr/lib/systemd/systemd); install the Debian package 'systemd'"
  command -v busctl >/dev/null || die "busctl not found; install the Debian package 'systemd'"
  command -v dbus-daemon >/dev/null || die "dbus-daemon not found; install the Debian package 'dbus' (scripts/deps.sh does)"
  command -v setsid >/dev/null || die "setsid not found; install the Debian package 'util-linux'"
  command -v flock >/dev/null || die "flock not found; install the Debian package 'util-linux'"
}

# The pid of the dbus-daemon that answers on our bus address.
bus_pid() {
  [ -S "$bus_path" ] || return 1
  local out
  out="$(busctl --address="$bus_addr" --timeout=3 call org.freedesktop.DBus /org/freedesktop/DBus \
    org.freedesktop.DBus GetConnectionUnixProcessID s org.freedesktop.DBus 2>/dev/null)" || return 1
  echo "${out#u }"
}

# Prints the manager's SystemState (running, degraded, starting, ...) when a systemd manager owns
# org.freedesktop.systemd1 on our bus; fails otherwise. Never auto-starts anything.
manager_state() {
  [ -S "$bus_path" ] || return 1
  local out
  out="$(busctl --address="$bus_addr" --timeout=3 --auto-start=no get-property \
    org.freedesktop.systemd1 /org/freedesktop/systemd1 org.freedesktop.systemd1.Manager \
    SystemState 2>/dev/null)" || return 1
  # out looks like: s "running"
  out="${out#s \"}"
  echo "${out%\"}"
}

# The pid of whoever owns org.freedesktop.systemd1 on our bus.
manager_pid_on_bus() {
  local out
  out="$(busctl --address="$bus_addr" --timeout=3 call org.freedesktop.DBus /org/freedesktop/DBus \
    org.freedesktop.DBus GetConnectionUnixProcessID s org.freedesktop.systemd1 2>/dev/null)" || return 1
  echo "${out#u }"
}

# Pids (one a line) of this user's processes named $1 whose command line contains $2.
procs_of_user() {
  local p
  for p in $(pgrep -u "$uid" -x "$1" 2>/dev/null || true); do
    [ "$p" = 1 ] && continue
    tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q -F -- "$2" && echo "$p"
  done
  return 0
}

# `systemd --user` processes of this user, whoever started them.
user_manager_pids() { procs_of_user systemd ' --user'; }

# Is pid $1 alive and its command line containing $2?
pid_is() {
  local pid="$1" what="$2"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$what"
}

read_pid() {
  if [ -f "$1" ]; then tr -dc '0-9' <"$1"; fi
  return 0
}

pid1_is_systemd() { [ "$(cat /proc/1/comm 2>/dev/null)" = "systemd" ]; }

take_lock() {
  # One start/stop at a time for this user (two `start`s at once must not make two managers).
  # In a directory of the user's own: a fixed name in /tmp could be a planted link.
  local dir="${XDG_CACHE_HOME:-$HOME/.cache}/kafkactl/locks"
  mkdir -p -m 700 "$dir"
  exec 9>"$dir/systemd-user.lock"
  flock -w 120 9 || die "another $prog start/stop is still running (lock $dir/systemd-user.lock)"
}

print_kernel_log() {
  # The manager logs to the kernel log (--log-target=kmsg).
  local lines
  lines="$(dmesg 2>/dev/null | grep -F "systemd[$1]" | tail -n 25 || true)"
  [ -n "$lines" ] || return 0
  echo "---- kernel log of systemd[$1] ----" >&2
  echo "$lines" >&2
  echo "----" >&2
}

print_log_tail() {
  local f="$1"
  [ -s "$f" ] || return 0
  echo "---- last lines of $f ----" >&2
  tail -n 25 "$f" >&2
  echo "----" >&2
}

wait_for_manager() {
  # $1 = pid of the manager we launched (empty when systemd started it for us)
  local launched="$1" deadline state
  deadline=$((SECONDS + timeout))
  while [ "$SECONDS" -lt "$deadline" ]; do
    if [ -n "$launched" ] && ! kill -0 "$launched" 2>/dev/null; then
      print_log_tail "$state_dir/systemd.log"
      print_kernel_log "$launched"
      [ -d "$marker" ] || echo "($marker was missing: systemd --user refuses to run without it)" >&2
      die "systemd --user exited during start-up (log: $state_dir/systemd.log, dmesg)"
    fi
    if state="$(manager_state)"; then
      case "$state" in
        running | degraded) return 0 ;;
      esac
    fi
    sleep 0.2
  done
  return 1
}

cmd_env() {
  printf 'export XDG_RUNTIME_DIR=%q;\n' "$runtime_dir"
  printf 'export DBUS_SESSION_BUS_ADDRESS=%q;\n' "$bus_addr"
}

cmd_start() {
  need_tools
  take_lock

  local state
  if state="$(manager_state)"; then
    say "reusing the user manager already running on $bus_addr (SystemState=$state, pid $(manager_pid_on_bus || echo '?'))"
    case "$state" in
      running | degraded) ;;
      *) wait_for_manager "" || die "the running user manager stayed in state '$state' for ${timeout}s" ;;
    esac
    return 0
  fi

  local others
  others="$(user_manager_pids | tr '\n' ' ')"
  if [ -n "${others// /}" ]; then
    die "a systemd user manager for uid $uid is already running (pid ${others% }) but does not answer on $bus_addr.
  Two managers for one user fight over ~/.config/systemd/user and the cgroup tree, so none is started.
  If it was started by this script: $0 stop. Otherwise stop it yourself (kill ${others% }) and run: $0 start"
  fi

  if pid1_is_systemd; then
    # A booted systemd: let it run the user manager the normal way (it makes the runtime dir).
    [ "$uid" -eq 0 ] || die "systemd is PID 1 here but no user manager answers for uid $uid; run: sudo loginctl enable-linger $(id -un)"
    say "PID 1 is systemd: starting user@$uid.service"
    systemctl start "user@$uid.service" || die "systemctl start user@$uid.service failed (journalctl -u user@$uid.service)"
    wait_for_manager "" || die "user@$uid.service did not answer on $bus_addr within ${timeout}s"
    say "user manager up (user@$uid.service); use: eval \"\$($0 env)\""
    return 0
  fi

  if [ ! -d "$runtime_dir" ]; then
    mkdir -p "$runtime_dir" 2>/dev/null ||
      die "cannot create $runtime_dir as uid $uid. Create it as root (mkdir -m 0700 $runtime_dir && chown $uid $runtime_dir);
  a non-root user also needs a delegated cgroup, see shared/notes/test-rig.md"
  fi
  chmod 0700 "$runtime_dir"
  mkdir -p "$state_dir"

  # A fresh runtime dir, as logind would make at login: nothing of an earlier manager is left
  # (stale sockets under systemd/, bus, gnupg/, ...), only our own state dir is kept.
  local stray
  for stray in $(procs_of_user dbus-daemon "--address=$bus_addr"); do
    # A dbus-daemon started by hand on the bus path (the old recipe): the manager's dbus.socket
    # would take the path over and leave it orphaned, so it goes now.
    say "stopping a stray dbus-daemon (pid $stray) on $bus_path; the manager brings its own bus"
    kill "$stray" 2>/dev/null || true
  done
  find "$runtime_dir" -mindepth 1 -maxdepth 1 ! -name kafkactl-rig -exec rm -rf {} + 2>/dev/null || true

  # 1. The session bus, the way dbus-user-session provides it: a dbus.socket on %t/bus that the
  #    manager listens on and a dbus.service it activates. The manager only registers
  #    org.freedesktop.systemd1 on a bus whose dbus.socket/dbus.service it runs itself (a
  #    dbus-daemon started beside it is never joined, and with dbus-user-session installed its
  #    socket is taken over), so the units go into the runtime unit dir. That works with only
  #    the 'dbus' package installed, and shadows the identical units of dbus-user-session.
  local unit_dir="$runtime_dir/systemd/user"
  mkdir -p "$unit_dir/sockets.target.wants"
  cat >"$unit_dir/dbus.socket" <<'UNIT'
# Written by kafkactl's scripts/systemd-user.sh (as dbus-user-session ships it).
[Unit]
Description=D-Bus User Message Bus Socket

[Socket]
ListenStream=%t/bus

[Install]
WantedBy=sockets.target
UNIT
  cat >"$unit_dir/dbus.service" <<UNIT
# Written by kafkactl's scripts/systemd-user.sh (as dbus-user-session ships it).
[Unit]
Description=D-Bus User Message Bus
Requires=dbus.socket

[Service]
Type=notify
NotifyAccess=main
ExecStart=$(command -v dbus-daemon) --session --address=systemd: --nofork --nopidfile --systemd-activation --syslog-only
Slice=session.slice
UNIT
  ln -sfn ../dbus.socket "$unit_dir/sockets.target.wants/dbus.socket"

  # 2. The marker systemd checks before it agrees to run a user instance.
  if [ ! -d "$marker" ]; then
    mkdir -p "$marker" 2>/dev/null || die "cannot create $marker (systemd --user refuses to start without it); run this as root"
    made_marker=1
  fi

  # 3. The manager: a clean environment like a login's, its own session. Units' stdout/stderr
  #    go to the log file (there is no journald here: the default, journal, would mean
  #    /dev/null); the manager's own messages go to the kernel log (dmesg), as it would
  #    otherwise write them to /dev/console.
  local sd launched
  sd="$(systemd_bin)"
  : >"$state_dir/systemd.log"
  (
    cd /
    exec env -i \
      HOME="${HOME:-$(getent passwd "$uid" | cut -d: -f6)}" \
      USER="$(id -un)" LOGNAME="$(id -un)" SHELL="${SHELL:-/bin/sh}" \
      LANG="${LANG:-C.UTF-8}" \
      PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
      XDG_RUNTIME_DIR="$runtime_dir" DBUS_SESSION_BUS_ADDRESS="$bus_addr" \
      setsid -w "$sd" --user --log-target=kmsg --log-level=notice \
      --default-standard-output=inherit --default-standard-error=inherit \
      </dev/null >>"$state_dir/systemd.log" 2>&1 9>&-
  ) &
  launched=$!
  echo "$launched" >"$state_dir/systemd.pid"

  if ! wait_for_manager "$launched"; then
    local st
    st="$(manager_state || echo 'no answer')"
    print_log_tail "$state_dir/systemd.log"
    print_kernel_log "$launched"
    kill "$launched" 2>/dev/null || true
    die "systemd --user (pid $launched) did not reach running/degraded within ${timeout}s (state: $st; log: $state_dir/systemd.log, dmesg)"
  fi

  # The pid that really owns org.freedesktop.systemd1 (setsid may have forked).
  local mpid
  mpid="$(manager_pid_on_bus || echo "$launched")"
  echo "$mpid" >"$state_dir/systemd.pid"

  if [ "$made_marker" -eq 1 ]; then
    rmdir "$marker" 2>/dev/null || say "note: could not remove $marker again"
    made_marker=0
  fi
  say "systemd --user pid $mpid is $(manager_state || echo up) on $bus_addr (log: $state_dir/systemd.log)"
  say "use it with: eval \"\$($0 env)\""
}

stop_pid() {
  # $1 pid, $2 name, $3 seconds to wait after SIGTERM
  local pid="$1" name="$2" wait_s="$3" _
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 $((wait_s * 10))); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  say "$name (pid $pid) still running after ${wait_s}s; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  sleep 0.2
}

cmd_stop() {
  take_lock
  local mpid
  mpid="$(read_pid "$state_dir/systemd.pid")"
  if pid_is "$mpid" "--user"; then
    # SIGTERM makes a user manager start exit.target: its units (dbus.service with them) are
    # stopped, then it exits.
    say "stopping systemd --user (pid $mpid) and its units"
    stop_pid "$mpid" "systemd --user" 30
    rm -f "$runtime_dir/systemd/user/dbus.socket" "$runtime_dir/systemd/user/dbus.service" \
      "$runtime_dir/systemd/user/sockets.target.wants/dbus.socket" "$bus_path"
  else
    say "nothing to stop: no manager started by this script is running"
  fi
  rm -f "$state_dir/systemd.pid"

  local others
  others="$(user_manager_pids | tr '\n' ' ')"
  if [ -n "${others// /}" ]; then
    say "left alone: systemd --user pid(s) ${others% } not started by this script"
  fi
}

cmd_status() {
  local state rc=0
  echo "XDG_RUNTIME_DIR=$runtime_dir"
  echo "DBUS_SESSION_BUS_ADDRESS=$bus_addr"
  local bpid
  if bpid="$(bus_pid)"; then
    echo "bus:      answering (dbus-daemon pid $bpid)"
  else
    echo "bus:      not answering"
  fi
  if state="$(manager_state)"; then
    echo "manager:  $state (pid $(manager_pid_on_bus || echo '?'))"
  else
    echo "manager:  not on the bus (start it: $0 start)"
    rc=3
  fi
  local others
  others="$(user_manager_pids | tr '\n' ' ')"
  [ -n "${others// /}" ] && echo "systemd --user processes of uid $uid: ${others% }"
  [ -f "$state_dir/systemd.log" ] && echo "log:      $state_dir/systemd.log (units' output); manager: dmesg"
  return "$rc"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  env) cmd_env ;;
  status) cmd_status ;;
  *)
    echo "usage: $0 start|stop|env|status" >&2
    exit 2
    ;;
esac
