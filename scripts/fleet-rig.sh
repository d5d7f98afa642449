#!/usr/bin/env bash
# A local fleet of test hosts for `kafkactl deploy` and the other fleet commands: each host hN
# is a Unix user with its own systemd user manager and its own sshd on its own loopback address
# (h1 = 127.0.0.11:2211, h2 = 127.0.0.12:2212, ...). See shared/notes/test-rig.md.
#
# Usage: scripts/fleet-rig.sh start|stop|env|status|down N|up N|swap-key N|restore-key N
#
#   start          create users, keys and config (idempotent), and bring up every host's user
#                  manager and sshd that is not already up (running ones are reused)
#   env            print `export KAFKACTL_FLEET_*=...` lines: eval "$(scripts/fleet-rig.sh env)"
#   status         one line per host; exit 0 when every host answers
#   stop           stop every host's sshd and user manager (users and keys stay)
#   down N         stop host N's sshd and its open sessions (an unreachable host)
#   up N           start host N's sshd again
#   swap-key N     give host N's sshd a new host key (known_hosts keeps the old one)
#   restore-key N  put host N's original host key back
#
# Needs root (users, cgroups, sshd). Knobs: KAFKACTL_FLEET_HOSTS (how many hosts, default 3),
# KAFKACTL_FLEET_DIR (state, default /var/lib/kafkactl-fleet).
# Files in $KAFKACTL_FLEET_DIR: id_ed25519 (the deploy key, authorized for every hN),
# known_hosts (every host's key, as ssh writes it for a non-default port), hN/ (sshd config,
# host key, pid file, log), bin/ (copies of the helper scripts, readable by the hN users).
set -euo pipefail

prog="fleet-rig.sh"
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
count="${KAFKACTL_FLEET_HOSTS:-3}"
dir="${KAFKACTL_FLEET_DIR:-/var/lib/kafkactl-fleet}"
marker="/run/systemd/system"
made_marker=0

say() { echo "$prog: $*" >&2; }
die() {
  echo "$prog: error: $*" >&2
  [ "$made_marker" -eq 1 ] && rmdir "$marker" 2>/dev/null
  exit 1
}

[ "$(id -u)" -eq 0 ] || die "run as root (it creates users, cgroups and sshd instances)"

addr_of() { echo "127.0.0.$((10 + $1))"; }
port_of() { echo "$((2210 + $1))"; }
user_of() { echo "h$1"; }

uid_of() { id -u "$(user_of "$1")"; }

# Is host N's user manager answering on its bus?
manager_up() {
  local user uid
  user="$(user_of "$1")"
  uid="$(uid_of "$1")" || return 1
  [ -S "/run/user/$uid/bus" ] || return 1
  runuser -u "$user" -- busctl --address="unix:path=/run/user/$uid/bus" --timeout=3 \
    --auto-start=no get-property org.freedesktop.systemd1 /org/freedesktop/systemd1 \
    org.freedesktop.systemd1.Manager SystemState >/dev/null 2>&1
}

sshd_pid() {
  local f="$dir/h$1/sshd.pid" pid
  [ -f "$f" ] || return 1
  pid="$(tr -dc '0-9' <"$f")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -F "$dir/h$1/sshd_config" || return 1
  echo "$pid"
}

# Does something accept TCP connections on host N's address?
listening() {
  timeout 2 bash -c "exec 3<>/dev/tcp/$(addr_of "$1")/$(port_of "$1")" 2>/dev/null
}

setup_common() {
  mkdir -p "$dir/bin" /run/sshd
  chmod 0755 "$dir" "$dir/bin"
  cp "$here/systemd-user.sh" "$dir/bin/systemd-user.sh"
  cp "$repo/tests/fixtures/fake-worker.sh" "$dir/bin/fake-worker.sh"
  chmod 0755 "$dir/bin/"*.sh
  if [ ! -f "$dir/id_ed25519" ]; then
    ssh-keygen -q -t ed25519 -N '' -C "kafkactl-fleet-rig" -f "$dir/id_ed25519"
  fi
}

setup_host() {
  local n="$1" user home uid hdir
  user="$(user_of "$n")"
  if ! id "$user" >/dev/null 2>&1; then
    useradd -m -s /bin/bash "$user"
  fi
  # A locked account ('!') is refused by sshd even with a key; '*' only forbids passwords.
  usermod -p '*' "$user"
  home="$(getent passwd "$user" | cut -d: -f6)"
  uid="$(id -u "$user")"
  install -d -m 0700 -o "$user" -g "$user" "$home/.ssh"
  install -m 0600 -o "$user" -g "$user" "$dir/id_ed25519.pub" "$home/.ssh/authorized_keys"
  printf 'XDG_RUNTIME_DIR=/run/user/%s\nDBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/%s/bus\n' \
    "$uid" "$uid" >"$home/.ssh/environment"
  chown "$user:$user" "$home/.ssh/environment"
  chmod 0600 "$home/.ssh/environment"

  hdir="$dir/h$n"
  mkdir -p "$hdir"
  if [ ! -f "$hdir/ssh_host_ed25519_key" ]; then
    ssh-keygen -q -t ed25519 -N '' -C "$user" -f "$hdir/ssh_host_ed25519_key"
    cp "$hdir/ssh_host_ed25519_key" "$hdir/original_host_key"
    cp "$hdir/ssh_host_ed25519_key.pub" "$hdir/original_host_key.pub"
  fi
  cat >"$hdir/sshd_config" <<EOF
# Written by kafkactl's scripts/fleet-rig.sh: test host $user.
ListenAddress $(addr_of "$n"):$(port_of "$n")
HostKey $hdir/ssh_host_ed25519_key
PidFile $hdir/sshd.pid
AllowUsers $user
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitUserEnvironment yes
MaxSessions 64
MaxStartups 64:30:128
LogLevel INFO
Subsystem sftp internal-sftp
EOF
}

start_manager() {
  local n="$1" user uid
  user="$(user_of "$n")"
  uid="$(uid_of "$n")"
  if manager_up "$n"; then
    say "$user: user manager already up"
    return 0
  fi
  install -d -m 0700 -o "$user" -g "$user" "/run/user/$uid"
  # systemd --user needs a cgroup it may write to: delegate one per user in the hierarchies
  # it uses (the unified one and the named systemd one), and launch it from inside them.
  local cg launch=""
  for cg in /sys/fs/cgroup/unified /sys/fs/cgroup/systemd; do
    [ -d "$cg" ] || continue
    mkdir -p "$cg/$user"
    chown -R "$user:$user" "$cg/$user"
    launch+="echo \$\$ >$cg/$user/cgroup.procs; "
  done
  if [ ! -d "$marker" ]; then
    mkdir -p "$marker"
    made_marker=1
  fi
  say "$user: starting its user manager"
  bash -c "$launch exec runuser -u $user -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=$(getent passwd "$user" | cut -d: -f6) bash $dir/bin/systemd-user.sh start" ||
    die "$user: the user manager did not start"
}

start_sshd() {
  local n="$1"
  if sshd_pid "$n" >/dev/null; then
    return 0
  fi
  rm -f "$dir/h$n/sshd.pid"
  /usr/sbin/sshd -f "$dir/h$n/sshd_config" -E "$dir/h$n/sshd.log" ||
    die "h$n: sshd did not start (see $dir/h$n/sshd.log)"
  local _
  for _ in $(seq 1 100); do
    listening "$n" && return 0
    sleep 0.1
  done
  die "h$n: sshd is not listening on $(addr_of "$n"):$(port_of "$n") (see $dir/h$n/sshd.log)"
}

write_known_hosts() {
  local n tmp="$dir/known_hosts.tmp"
  : >"$tmp"
  for n in $(seq 1 "$count"); do
    printf '[%s]:%s %s\n' "$(addr_of "$n")" "$(port_of "$n")" \
      "$(cut -d' ' -f1,2 "$dir/h$n/original_host_key.pub")" >>"$tmp"
  done
  mv "$tmp" "$dir/known_hosts"
}

stop_sshd() {
  local n="$1" pid child
  pid="$(sshd_pid "$n")" || return 0
  # The listener and the sessions it forked (sshd leaves those running on SIGTERM).
  for child in $(pgrep -P "$pid" 2>/dev/null || true); do
    kill "$child" 2>/dev/null || true
  done
  kill "$pid" 2>/dev/null || true
  local _
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  rm -f "$dir/h$n/sshd.pid"
}

cmd_start() {
  command -v sshd >/dev/null || [ -x /usr/sbin/sshd ] || die "sshd not found; install openssh-server (scripts/deps.sh)"
  exec 9>/tmp/kafkactl-fleet-rig.lock
  flock -w 300 9 || die "another $prog is running"
  setup_common
  local n
  for n in $(seq 1 "$count"); do setup_host "$n"; done
  write_known_hosts
  for n in $(seq 1 "$count"); do start_manager "$n"; done
  if [ "$made_marker" -eq 1 ]; then
    rmdir "$marker" 2>/dev/null || true
    made_marker=0
  fi
  for n in $(seq 1 "$count"); do start_sshd "$n"; done
  say "fleet up: $(for n in $(seq 1 "$count"); do printf '%s@%s:%s ' "$(user_of "$n")" "$(addr_of "$n")" "$(port_of "$n")"; done)"
  say "use it with: eval \"\$($0 env)\""
}

cmd_stop() {
  local n user
  for n in $(seq 1 "$count"); do
    stop_sshd "$n"
    user="$(user_of "$n")"
    if id "$user" >/dev/null 2>&1 && [ -f "$dir/bin/systemd-user.sh" ]; then
      runuser -u "$user" -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
        HOME="$(getent passwd "$user" | cut -d: -f6)" bash "$dir/bin/systemd-user.sh" stop || true
    fi
  done
}

cmd_env() {
  local hosts="" n
  for n in $(seq 1 "$count"); do
    hosts+="${hosts:+,}$(user_of "$n")@$(addr_of "$n"):$(port_of "$n")"
  done
  printf 'export KAFKACTL_FLEET_DIR=%q;\n' "$dir"
  printf 'export KAFKACTL_FLEET_HOSTS_LIST=%q;\n' "$hosts"
  printf 'export KAFKACTL_FLEET_IDENTITY=%q;\n' "$dir/id_ed25519"
  printf 'export KAFKACTL_FLEET_KNOWN_HOSTS=%q;\n' "$dir/known_hosts"
}

cmd_status() {
  local n rc=0 m s
  for n in $(seq 1 "$count"); do
    m="down"
    s="down"
    id "$(user_of "$n")" >/dev/null 2>&1 && manager_up "$n" && m="up"
    sshd_pid "$n" >/dev/null && listening "$n" && s="up"
    echo "h$n $(addr_of "$n"):$(port_of "$n") manager=$m sshd=$s"
    [ "$m" = up ] && [ "$s" = up ] || rc=3
  done
  return "$rc"
}

cmd_swap_key() {
  local n="$1" hdir="$dir/h$1"
  stop_sshd "$n"
  rm -f "$hdir/ssh_host_ed25519_key" "$hdir/ssh_host_ed25519_key.pub"
  ssh-keygen -q -t ed25519 -N '' -C "h$n-swapped" -f "$hdir/ssh_host_ed25519_key"
  start_sshd "$n"
}

cmd_restore_key() {
  local n="$1" hdir="$dir/h$1"
  stop_sshd "$n"
  cp "$hdir/original_host_key" "$hdir/ssh_host_ed25519_key"
  cp "$hdir/original_host_key.pub" "$hdir/ssh_host_ed25519_key.pub"
  chmod 0600 "$hdir/ssh_host_ed25519_key"
  start_sshd "$n"
}

need_n() { [[ "${1:-}" =~ ^[0-9]+$ ]] && [ "$1" -ge 1 ] && [ "$1" -le "$count" ] || die "need a host number 1..$count"; }

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  env) cmd_env ;;
  status) cmd_status ;;
  down) need_n "${2:-}" && stop_sshd "$2" ;;
  up) need_n "${2:-}" && start_sshd "$2" ;;
  swap-key) need_n "${2:-}" && cmd_swap_key "$2" ;;
  restore-key) need_n "${2:-}" && cmd_restore_key "$2" ;;
  *)
    echo "usage: $0 start|stop|env|status|down N|up N|swap-key N|restore-key N" >&2
    exit 2
    ;;
esac
