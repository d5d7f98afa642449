#!/usr/bin/env bash
# Real hosts for kafkactl's system-scope and fleet tests: booted Debian 12 (bookworm) containers
# under systemd-nspawn, each with systemd as PID 1 (system bus, journald, logind, polkit) and a
# real sshd on its own loopback address: h1 = 127.0.1.1, h2 = 127.0.1.2, ... (port 22). See
# shared/notes/test-rig.md, "Real hosts".
#
# Usage: scripts/hosts.sh COMMAND [ARGS] [--dir DIR]
#
#   image                      build the host image once (cached) and print its path
#   start N [--persistent hI,...]
#                              boot h1..hN in parallel (hosts that already run are left alone),
#                              wait until every sshd accepts the rig's key and systemd says
#                              running (or degraded), then write DIR/known_hosts and DIR/hosts.
#                              A host boots a fresh, throwaway state of the image each time,
#                              except the --persistent ones: they boot their own copy
#                              (DIR/hI/root, made once) that keeps its state over reboot, stop,
#                              crash and boot. Each start sets which hosts are persistent
#                              (a running host keeps its kind until it is stopped).
#   stop [hI ...]              power hosts off cleanly (default: every host of DIR)
#   crash hI                   SIGKILL hI's PID 1: a power cut (no shutdown, no restart)
#   boot hI                    boot a stopped or crashed host again: same keys, same address
#   reboot hI                  `systemctl reboot` inside hI; returns when it is back
#   exec hI CMD...             run CMD as root inside hI (no ssh), exiting with its status
#   install-deb FILE [hI ...]  copy FILE into the hosts (default: every running one) and
#                              `dpkg -i` it there, in parallel; fails if any host fails
#   swap-key hI                give hI's sshd a new host key (DIR/known_hosts keeps the old one)
#   restore-key hI             put hI's original host key back
#   env                        print `export KAFKACTL_HOSTS_*=...` lines (DIR, KEY, KNOWN, LIST):
#                                  eval "$(scripts/hosts.sh env)"
#   status                     one line per host; exit 0 when all run and answer, 3 otherwise
#
# Runs as root, non-interactively. DIR defaults to $KAFKACTL_HOSTS_DIR or /var/lib/kafkactl-hosts.
# Needs systemd-nspawn and debootstrap (installed with apt-get when missing), not a booted
# systemd: the containers run with --register=no --keep-unit. One rig at a time per machine
# (the addresses are fixed), and nothing of the machine may listen on *:22.
#
# Inside every host: `root` and `deploy` (uid 2002, /bin/bash) log in with DIR/id_ed25519; `app`
# (uid 2001, home /srv/app) is the user handlers run as; DIR/shared is /srv/shared and also
# DIR/shared (the same path as on the machine, as a Capistrano release is), read-only;
# hN resolves to 127.0.1.N. CPU accounting works (systemctl show -p CPUUsageNSec); memory and
# tasks accounting do not (no such controllers in the unified hierarchy here). polkitd is
# D-Bus-activated, rules go to /etc/polkit-1/rules.d. ssh logins open no logind session (so no
# `systemd --user` for root that the machine would take for its own root's). The hosts share
# the machine's network: a service inside reaches a broker on 127.0.0.1. Their processes show in
# the machine's process table (the same uids): look processes up by pid file or by
# /proc/PID/ns/pid, not by name.
#
# Files in DIR: id_ed25519 (the client key), known_hosts (`127.0.1.I ssh-ed25519 ...`), hosts
# (one address per line), shared/, and per host hI/: ssh/ (its host key and sshd drop-in,
# mounted at /etc/ssh/host), console.log (boot messages and the supervisor's), supervisor.pid,
# nspawn.pid, pid1 (the container's PID 1 as the machine numbers it), root/ (persistent hosts),
# install-deb.log. Each host runs under a small supervisor that boots it again when it asks for
# a reboot (nspawn exits 133, as systemd-nspawn@.service does) and otherwise lets it stay down;
# each nspawn runs in a cgroup of its own (kafkactl-hosts/<dir hash>-hI).
#
# Cache: ${KAFKACTL_CACHE:-~/.cache/kafkactl}/host-image-<hash>/ is the image (~200 MB); <hash>
# covers the package list and build_image's text, so changing either builds a new image (~1-2
# min; older ones are removed unless a container still uses one). The image is never written
# to: an ephemeral host boots it read-only under a tmpfs overlay (nspawn --volatile=overlay).
#
# Environment knobs: KAFKACTL_HOSTS_TIMEOUT (seconds to wait for a boot, default 120),
# KAFKACTL_HOSTS_MIRROR (Debian mirror; default: the one in /etc/apt/sources.list.d/debian.sources),
# KAFKACTL_HOSTS_EPHEMERAL=copy (ephemeral hosts boot with nspawn -x instead: a full copy of the
# image per boot, `.#machine.*` beside it, which costs ~5 s of CPU per boot on ext4; leftovers of
# killed nspawns are removed by stop, crash and image).
set -euo pipefail

prog="hosts.sh"
self="$(readlink -f "$0")"
cache_root="${KAFKACTL_CACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/kafkactl}"
dir="${KAFKACTL_HOSTS_DIR:-/var/lib/kafkactl-hosts}"
timeout="${KAFKACTL_HOSTS_TIMEOUT:-120}"
ephemeral="${KAFKACTL_HOSTS_EPHEMERAL:-overlay}"
stop_timeout=30
clean_path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
export PATH="$clean_path:$PATH"

IMAGE_SUITE="bookworm"
IMAGE_PACKAGES=(
  systemd systemd-sysv dbus dbus-user-session libpam-systemd
  openssh-server openssh-client openssh-sftp-server
  iproute2 procps polkitd ruby python3 ca-certificates less netbase
)

say() { echo "$prog: $*" >&2; }
die() {
  echo "$prog: error: $*" >&2
  exit 1
}

usage() {
  sed -n '2,/^set -euo/p' "$self" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2
  exit 2
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }
secs_since() { # ms timestamp -> "1.234"
  local d=$(($(now_ms) - $1))
  printf '%d.%03d' $((d / 1000)) $((d % 1000))
}

# ---------------------------------------------------------------------------------------------
# Hosts, addresses, pids

host_index() { # hI -> I (dies on anything else)
  [[ "${1:-}" =~ ^h([1-9][0-9]{0,2})$ ]] && [ "${BASH_REMATCH[1]}" -le 254 ] ||
    die "not a host name: '${1:-}' (expected h1..h254)"
  echo "${BASH_REMATCH[1]}"
}
addr_of() { echo "127.0.1.$(host_index "$1")"; }

# Every host that has a directory in DIR, in order.
all_hosts() {
  local d
  for d in "$dir"/h[0-9]*; do
    if [ -d "$d/ssh" ]; then echo "${d##*/}"; fi
  done | sort -V
}

need_host() {
  host_index "$1" >/dev/null
  [ -f "$dir/$1/ssh/ssh_host_ed25519_key" ] || die "no host $1 in $dir (run: $prog start N)"
}

read_pid() {
  local f="$1" pid
  [ -f "$f" ] || return 1
  pid="$({ tr -dc '0-9' <"$f"; } 2>/dev/null)" || return 1
  [ -n "$pid" ] && [ -d "/proc/$pid" ] || return 1
  echo "$pid"
}

# The pid of hI's supervisor, if it runs.
supervisor_pid() {
  local pid
  pid="$(read_pid "$dir/$1/supervisor.pid")" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -F -- "__supervise $1 --dir $dir " ||
    return 1
  echo "$pid"
}

nspawn_pid() {
  local pid
  pid="$(read_pid "$dir/$1/nspawn.pid")" || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "systemd-nspawn" ] || return 1
  echo "$pid"
}

# Is PID the init of a pid namespace of its own (NSpid: <pid> 1)?
is_ns_init() {
  local ns
  ns="$(awk '/^NSpid:/ { print (NF >= 3 && $NF == 1) ? "yes" : "no" }' "/proc/$1/status" 2>/dev/null)" ||
    return 1
  [ "$ns" = yes ]
}

# The container's PID 1 among the children of an nspawn process.
find_pid1() {
  local c
  for c in $(pgrep -P "$1" 2>/dev/null); do
    if is_ns_init "$c"; then
      echo "$c"
      return 0
    fi
  done
  return 1
}

# The container's PID 1 found by its cgroup (hI's own, see cgroup_name): for a container whose
# nspawn and records are gone.
find_pid1_by_cgroup() {
  local f pid
  for f in $(grep -l -s -F -- "/$(cgroup_name "$1")/payload" /proc/[0-9]*/cgroup); do
    pid="${f#/proc/}"
    pid="${pid%/cgroup}"
    if is_ns_init "$pid"; then
      echo "$pid"
      return 0
    fi
  done
  return 1
}

# hI's PID 1 (as the machine numbers it), checked: a pid namespace's init, named hI.
pid1_of() {
  local host="$1" pid np
  if ! pid="$(read_pid "$dir/$host/pid1")"; then
    if np="$(nspawn_pid "$host")"; then
      pid="$(find_pid1 "$np")" || return 1
    else
      pid="$(find_pid1_by_cgroup "$host")" || return 1
    fi
  fi
  is_ns_init "$pid" || return 1
  [ "$(nsenter -t "$pid" -u hostname 2>/dev/null)" = "$host" ] || return 1
  echo "$pid"
}

# Becomes a process of the host whose PID 1 is $1: joins its cgroup (so that it is counted and
# killed with the host, and /proc/self/cgroup reads right inside), then execs nsenter with a
# clean environment (nothing of the caller's session bus, runtime dir or notify socket leaks in).
enter() {
  local pid="$1" hier path mnt
  shift
  while IFS=: read -r _ hier path; do
    case "$hier" in
    "") mnt="$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)" ;;
    name=systemd) mnt="$(awk '$3 == "cgroup" && $4 ~ /(^|,)name=systemd(,|$)/ { print $2; exit }' /proc/self/mounts)" ;;
    *) continue ;;
    esac
    [ -z "$mnt" ] || echo "$BASHPID" >"$mnt$path/cgroup.procs" 2>/dev/null || true
  done <"/proc/$pid/cgroup"
  exec env -i PATH="$clean_path" HOME=/root USER=root LOGNAME=root LANG=C.UTF-8 \
    TERM="${TERM:-dumb}" nsenter -t "$pid" -a "$@"
}

# A command inside hI, as root (in a subshell: the caller stays where it is).
in_host() {
  local host="$1" pid
  shift
  pid="$(pid1_of "$host")" || die "$host is not running"
  (enter "$pid" "$@")
}

# ---------------------------------------------------------------------------------------------
# ssh

ssh_opts() { # host -> options for ssh to it, checking the key it serves now
  local host="$1"
  echo -F /dev/null -i "$dir/id_ed25519" -o IdentitiesOnly=yes -o BatchMode=yes \
    -o ConnectTimeout=3 -o StrictHostKeyChecking=yes -o GlobalKnownHostsFile=/dev/null \
    -o UserKnownHostsFile="$dir/$host/known_host" -o LogLevel=ERROR
}

write_current_known() {
  local host="$1"
  echo "$(addr_of "$host") $(cut -d' ' -f1,2 "$dir/$host/ssh/ssh_host_ed25519_key.pub")" \
    >"$dir/$host/known_host"
}

ssh_ok() { # host [user]
  local host="$1" user="${2:-root}"
  # shellcheck disable=SC2046
  env -u SSH_AUTH_SOCK timeout 10 ssh $(ssh_opts "$host") "$user@$(addr_of "$host")" true \
    </dev/null >/dev/null 2>&1
}

# ---------------------------------------------------------------------------------------------
# The image

install_tools() {
  local missing=()
  command -v systemd-nspawn >/dev/null 2>&1 || missing+=(systemd-container)
  command -v debootstrap >/dev/null 2>&1 || [ -x /usr/sbin/debootstrap ] || missing+=(debootstrap)
  command -v ssh-keygen >/dev/null 2>&1 || missing+=(openssh-client)
  command -v nsenter >/dev/null 2>&1 || missing+=(util-linux)
  command -v pgrep >/dev/null 2>&1 || missing+=(procps)
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null ||
      die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" </dev/null || die "could not install ${missing[*]}"
  fi
}

# The Debian mirror: $KAFKACTL_HOSTS_MIRROR, else the machine's own (deb822 or one-line style).
mirror() {
  if [ -n "${KAFKACTL_HOSTS_MIRROR:-}" ]; then
    echo "$KAFKACTL_HOSTS_MIRROR"
    return
  fi
  local m=""
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    m="$(awk '
      /^[ \t]*$/ { if (uri != "" && suites ~ /(^| )bookworm( |$)/) { print uri; exit } uri = ""; suites = ""; next }
      /^URIs:/ { uri = $2 }
      /^Suites:/ { $1 = ""; suites = $0 " " }
      END { if (uri != "" && suites ~ /(^| )bookworm( |$)/) print uri }
    ' /etc/apt/sources.list.d/debian.sources | head -n 1)"
  fi
  if [ -z "$m" ] && [ -f /etc/apt/sources.list ]; then
    m="$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' /etc/apt/sources.list)"
  fi
  echo "${m:-http://deb.debian.org/debian}"
}

# Unmounts whatever is mounted below $1 (debootstrap mounts proc and sys in the target and may
# leave them behind when it fails), deepest first, then removes $1 without leaving its file
# system.
remove_tree() {
  local t="$1" m
  [ -e "$t" ] || return 0
  t="$(readlink -f "$t")"
  for m in $(awk -v p="$t/" 'index($2, p) == 1 { print $2 }' /proc/self/mounts | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
  rm -rf --one-file-system "$t"
}

# The recipe. Everything here (and IMAGE_PACKAGES) is hashed into the image's name.
build_image() {
  local root="$1" mirror="$2" include
  include="$(
    IFS=,
    echo "${IMAGE_PACKAGES[*]}"
  )"
  debootstrap --variant=minbase --include="$include" "$IMAGE_SUITE" "$root" "$mirror" \
    </dev/null >"$root.log" 2>&1 || {
    tail -n 30 "$root.log" >&2
    die "debootstrap failed (log: $root.log)"
  }
  rm -f "$root.log"

  # Smaller, so that copies of it (persistent hosts, KAFKACTL_HOSTS_EPHEMERAL=copy) are quicker:
  # nobody reads documentation in a test host. The dpkg excludes hold for later packages too.
  cat >"$root/etc/dpkg/dpkg.cfg.d/kafkactl-nodoc" <<'EOF'
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
path-include=/usr/share/locale/locale.alias
EOF
  find "$root/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
  find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/*
  find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
  rm -rf "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
    "$root"/var/lib/apt/lists/* "$root"/var/cache/debconf/*-old "$root"/var/log/bootstrap.log
  mkdir -p "$root/var/lib/apt/lists/partial"

  # -M NAME sets the hostname; every host's name resolves to its address.
  rm -f "$root/etc/hostname"
  {
    printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n'
    printf 'ff02::1\t\tip6-allnodes\nff02::2\t\tip6-allrouters\n'
    for i in $(seq 1 254); do printf '127.0.1.%d\th%d\n' "$i" "$i"; done
  } >"$root/etc/hosts"
  echo 'LANG=C.UTF-8' >"$root/etc/default/locale"
  # No logind session (so no `systemd --user`) per ssh login: the machine would see the hosts'
  # user managers as root's own (uid 0, same name) and scripts/systemd-user.sh refuses to start
  # beside them. libpam-systemd stays installed: polkitd needs logind.
  DEBIAN_FRONTEND=noninteractive chroot "$root" pam-auth-update --disable systemd </dev/null
  # An empty machine-id: each boot gets a transient one from nspawn (not a "first boot").
  : >"$root/etc/machine-id"
  ln -sf /etc/machine-id "$root/var/lib/dbus/machine-id"

  # No periodic jobs of their own in the test hosts (apt downloads, fstrim, scrubs).
  local unit
  for unit in apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer \
    fstrim.timer e2scrub_reap.service; do
    find "$root/etc/systemd/system" -name "$unit" -type l -delete
    ln -sf /dev/null "$root/etc/systemd/system/$unit"
  done

  mkdir -p "$root/etc/systemd/system.conf.d"
  cat >"$root/etc/systemd/system.conf.d/kafkactl-hosts.conf" <<'EOF'
[Manager]
DefaultCPUAccounting=yes
EOF

  # sshd: each host's key and address come from /etc/ssh/host (bind-mounted per host).
  rm -f "$root"/etc/ssh/ssh_host_*
  mkdir -p "$root/etc/ssh/host"
  cat >"$root/etc/ssh/sshd_config.d/kafkactl-hosts.conf" <<'EOF'
# scripts/hosts.sh: the host's ListenAddress and HostKey are in /etc/ssh/host/sshd.conf.
Include /etc/ssh/host/*.conf
PasswordAuthentication no
KbdInteractiveAuthentication no
MaxSessions 64
MaxStartups 64:30:128
EOF

  # Users: app runs the handlers; deploy logs in with a key ('*', not '!': sshd refuses a
  # locked account even with a key).
  chroot "$root" groupadd -g 2001 app
  chroot "$root" useradd -u 2001 -g app -d /srv/app -M -s /usr/sbin/nologin -c "kafkactl app" app
  install -d -m 0755 -o 2001 -g 2001 "$root/srv/app"
  chroot "$root" groupadd -g 2002 deploy
  chroot "$root" useradd -u 2002 -g deploy -d /home/deploy -m -s /bin/bash -c "deploy" deploy
  chroot "$root" usermod -p '*' deploy
  install -d -m 0700 -o 2002 -g 2002 "$root/home/deploy/.ssh"
  install -m 0600 -o 2002 -g 2002 /dev/null "$root/home/deploy/.ssh/authorized_keys"
  install -d -m 0700 "$root/root/.ssh"
  install -m 0600 /dev/null "$root/root/.ssh/authorized_keys"
  mkdir -p "$root/srv/shared"
}

image_hash() {
  {
    printf '%s\n' "$IMAGE_SUITE" "${IMAGE_PACKAGES[@]}"
    declare -f build_image
  } | sha256sum | cut -c1-12
}

image_path() { echo "$cache_root/host-image-$(image_hash)"; }

# Ephemeral copies (.#machine.*) that nothing has mounted any more. A copy being made right now
# is not mounted yet either: copies younger than two minutes are only removed when named.
sweep_copies() { # [copy basenames known to be ours and dead]
  local c base now age
  now="$(date +%s)"
  for c in "$cache_root"/.#machine.host-image-*; do
    [ -d "$c" ] || continue
    base="${c##*/}"
    if grep -q -s -F -- "$base" /proc/[0-9]*/mountinfo; then
      continue
    fi
    age=$((now - $(stat -c %Z "$c")))
    if [ "$age" -ge 120 ] || printf '%s\n' "$@" | grep -q -x -F -- "$base"; then
      say "removing leftover copy $c"
      remove_tree "$c"
    fi
  done
  # nspawn's lock files of copies that are gone.
  for c in "$cache_root"/.#.#machine.host-image-*.lck; do
    [ -f "$c" ] || continue
    base="${c##*/.#}"
    base="${base%.lck}"
    if [ ! -e "$cache_root/$base" ] && [ $((now - $(stat -c %Z "$c"))) -ge 120 ]; then
      rm -f "$c"
    fi
  done
}

# Builds the image if needed (once, whoever asks first) and sets $image.
ensure_image() {
  install_tools
  image="$(image_path)"
  [ -d "$image" ] && return 0
  mkdir -p "$cache_root"
  exec 8>"$cache_root/host-image.lock"
  flock -w 1800 8 || die "timed out waiting for another image build ($cache_root/host-image.lock)"
  if [ ! -d "$image" ]; then
    local tmp started
    tmp="$cache_root/.host-image-$(image_hash).tmp"
    remove_tree "$tmp"
    started="$(now_ms)"
    say "building the host image (Debian $IMAGE_SUITE, debootstrap from $(mirror)): ~1.5 min"
    build_image "$tmp" "$(mirror)"
    mv -T "$tmp" "$image"
    say "host image built in $(secs_since "$started") s: $image ($(du -sh "$image" | cut -f1))"
    prune_images
  fi
  exec 8>&-
}

# Older images (another recipe), unless a running container still boots from one, and leftover
# ephemeral copies. Called with the image lock held.
prune_images() {
  local old
  for old in "$cache_root"/host-image-* "$cache_root"/.host-image-*.tmp; do
    [ -d "$old" ] && [ "$old" != "$image" ] || continue
    if grep -q -s -F -- "$old" /proc/[0-9]*/cmdline; then
      say "keeping old image $old: a container uses it"
      continue
    fi
    say "removing old image $old"
    remove_tree "$old"
  done
  rm -f "$cache_root"/.host-image-*.tmp.log
  sweep_copies
}

cmd_image() {
  ensure_image
  exec 8>"$cache_root/host-image.lock"
  flock -w 1800 8 || die "timed out waiting for another image build ($cache_root/host-image.lock)"
  prune_images
  exec 8>&-
  echo "$image"
}

# ---------------------------------------------------------------------------------------------
# Booting one host

# Keys, drop-ins and dirs of hI (made once; kept over stop and boot).
prepare_host() {
  local host="$1" hd="$dir/$1"
  mkdir -p "$hd/ssh"
  chmod 0700 "$hd/ssh"
  if [ ! -f "$hd/ssh/ssh_host_ed25519_key" ]; then
    rm -f "$hd/ssh/ssh_host_ed25519_key"*
    ssh-keygen -q -t ed25519 -N '' -C "root@$host" -f "$hd/ssh/ssh_host_ed25519_key"
  fi
  cat >"$hd/ssh/sshd.conf" <<EOF
# Written by kafkactl's scripts/hosts.sh for $host.
ListenAddress $(addr_of "$host")
HostKey /etc/ssh/host/ssh_host_ed25519_key
EOF
  write_current_known "$host"
}

# The persistent host's own tree: a copy of the image, made once.
prepare_persistent_root() {
  local host="$1" hd="$dir/$1"
  if [ -d "$hd/root" ]; then
    if [ "$(cat "$hd/root.image" 2>/dev/null)" != "${image##*/}" ]; then
      say "warning: $host's persistent root was copied from another image ($(cat "$hd/root.image" 2>/dev/null || echo unknown)); remove $hd/root to start it afresh"
    fi
    return 0
  fi
  say "$host: making its persistent root ($hd/root)"
  remove_tree "$hd/root.tmp"
  cp -a "$image" "$hd/root.tmp"
  # Its own machine-id, kept over reboots (so its journal is one machine's).
  od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$hd/root.tmp/etc/machine-id"
  echo >>"$hd/root.tmp/etc/machine-id"
  mv -T "$hd/root.tmp" "$hd/root"
  echo "${image##*/}" >"$hd/root.image"
}

# The cgroup (in every hierarchy systemd-nspawn uses) each host's nspawn runs in, so that two
# hosts never share one: with --keep-unit, nspawn puts its container in <own cgroup>/payload.
cgroup_name() {
  echo "kafkactl-hosts/$(echo "$dir" | sha256sum | cut -c1-8)-$1"
}
cgroup_dirs() {
  local mnt
  for mnt in $(awk '$3 == "cgroup2" || ($3 == "cgroup" && $4 ~ /(^|,)name=systemd(,|$)/) { print $2 }' \
    /proc/self/mounts); do
    echo "$mnt/$(cgroup_name "$1")"
  done
}
remove_cgroups() {
  local cg
  for cg in $(cgroup_dirs "$1"); do
    [ ! -d "$cg" ] || find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null || true
    rmdir "${cg%/*}" 2>/dev/null || true # kafkactl-hosts/, once no host of any rig uses it
  done
  return 0
}

# The supervisor (started by launch_host under setsid): boots hI, boots it again when it asked
# for a reboot (exit status 133), and otherwise lets it stay down. Its output is console.log.
cmd_supervise() {
  local host="$1" hd="$dir/$1"
  set +e
  local stopping=0 npid="" rc pid1 base
  cd /
  trap 'stopping=1; [ -n "$npid" ] && kill -TERM "$npid" 2>/dev/null' TERM INT HUP
  echo $$ >"$hd/supervisor.pid"
  while :; do
    if [ -f "$hd/down" ]; then
      echo "=== $prog: $(date '+%F %T') $host stopped"
      break
    fi
    local args=(-M "$host" -b --register=no --keep-unit --console=read-only --link-journal=no
      --bind-ro="$hd/ssh:/etc/ssh/host"
      --bind-ro="$dir/id_ed25519.pub:/root/.ssh/authorized_keys"
      --bind-ro="$dir/id_ed25519.pub:/home/deploy/.ssh/authorized_keys"
      --bind-ro="$dir/shared:/srv/shared"
      --bind-ro="$dir/shared:$dir/shared")
    if [ -f "$hd/persistent" ]; then
      args=(-D "$hd/root" "${args[@]}")
    else
      case "$(cat "$hd/ephemeral")" in
      copy) args=(-D "$(cat "$hd/image")" -x "${args[@]}") ;;
      *) args=(-D "$(cat "$hd/image")" --volatile=overlay "${args[@]}") ;;
      esac
    fi
    echo "=== $prog: $(date '+%F %T') booting $host: systemd-nspawn ${args[*]}"
    (
      for cg in $(cgroup_dirs "$host"); do
        mkdir -p "$cg" && echo "$BASHPID" >"$cg/cgroup.procs" ||
          echo "$prog: warning: could not move into cgroup $cg"
      done
      exec env -i PATH="$clean_path" LANG=C.UTF-8 SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 \
        systemd-nspawn "${args[@]}"
    ) &
    npid=$!
    echo "$npid" >"$hd/nspawn.pid"
    # Its PID 1 and (ephemeral) the copy it boots, recorded for crash, exec and cleanup.
    pid1=""
    local deadline=$((SECONDS + 60))
    while [ -z "$pid1" ] && kill -0 "$npid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do
      sleep 0.05
      [ "$(cat "/proc/$npid/comm" 2>/dev/null)" = "systemd-nspawn" ] || continue
      pid1="$(find_pid1 "$npid")" || pid1=""
    done
    if [ -n "$pid1" ]; then
      echo "$pid1" >"$hd/pid1"
      base=""
      for _ in $(seq 1 200); do
        if [ "$(cat "/proc/$pid1/comm" 2>/dev/null)" = systemd ]; then
          base="$(awk '$5 == "/" { print $4 }' "/proc/$pid1/mountinfo" 2>/dev/null | tail -n 1)"
          break
        fi
        sleep 0.05
      done
      base="${base##*/}"
      if [[ "$base" == .#machine.* ]]; then echo "$base" >"$hd/copy"; fi
    fi
    rc=0
    wait "$npid" || rc=$?
    while kill -0 "$npid" 2>/dev/null; do
      rc=0
      wait "$npid" || rc=$?
    done
    rm -f "$hd/nspawn.pid"
    if [ -n "$pid1" ] && is_ns_init "$pid1" &&
      [ "$(nsenter -t "$pid1" -u hostname 2>/dev/null)" = "$host" ]; then
      # nspawn was killed (SIGKILL): the container lives on without it. Keep its PID 1 and
      # copy on record for stop and crash; booting it again is out of the question.
      echo "=== $prog: $(date '+%F %T') nspawn exited (status $rc) but $host's PID 1 ($pid1) lives on: not restarting; '$prog stop $host' powers it off"
      break
    fi
    rm -f "$hd/pid1"
    if [ -f "$hd/copy" ]; then
      base="$(cat "$hd/copy")"
      rm -f "$hd/copy"
      if [ -d "$cache_root/$base" ] && ! grep -q -s -F -- "$base" /proc/[0-9]*/mountinfo; then
        echo "$prog: removing leftover copy $cache_root/$base"
        remove_tree "$cache_root/$base"
      fi
    fi
    if [ $stopping -eq 1 ] || [ -f "$hd/down" ]; then
      echo "=== $prog: $(date '+%F %T') $host stopped (nspawn exit status $rc)"
      break
    fi
    if [ $rc -eq 133 ]; then
      echo "=== $prog: $(date '+%F %T') $host asked for a reboot"
      continue
    fi
    echo "=== $prog: $(date '+%F %T') $host is down (nspawn exit status $rc): not restarting"
    break
  done
  remove_cgroups "$host"
  rm -f "$hd/supervisor.pid"
}

# Starts hI's supervisor in the background (in a session of its own, holding none of the
# caller's descriptors: a lock, or a pipe a test reads to its end).
launch_host() {
  local host="$1" hd="$dir/$1"
  rm -f "$hd/down" "$hd/pid1" "$hd/nspawn.pid" "$hd/supervisor.pid"
  echo "$image" >"$hd/image"
  echo "$ephemeral" >"$hd/ephemeral"
  (
    for fd_path in /proc/$BASHPID/fd/*; do
      fd="${fd_path##*/}"
      [ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-"
    done
    exec setsid bash "$self" __supervise "$host" --dir "$dir"
  ) </dev/null >>"$hd/console.log" 2>&1 &
  # Until it has written its pid file, nothing else knows that the host is booting.
  local pid=$! deadline=$((SECONDS + 10))
  until supervisor_pid "$host" >/dev/null; do
    kill -0 "$pid" 2>/dev/null || die "$host: the supervisor exited at once (log: $hd/console.log)"
    [ $SECONDS -lt $deadline ] || die "$host: the supervisor did not start (log: $hd/console.log)"
    sleep 0.02
  done
}

host_running() { # the container runs (or its supervisor is booting it)
  supervisor_pid "$1" >/dev/null || nspawn_pid "$1" >/dev/null || pid1_of "$1" >/dev/null
}

# Waits until hI's sshd accepts the client key (serving the key of DIR/hI/ssh) and its systemd
# is running or degraded. Run in a subshell: dies on failure.
wait_ready() {
  local host="$1" deadline=$((SECONDS + timeout)) state="" t0 t_ssh=""
  local hd="$dir/$host"
  t0="$(now_ms)"
  while :; do
    if pid1_of "$host" >/dev/null && ssh_ok "$host"; then
      [ -n "$t_ssh" ] || t_ssh="$(secs_since "$t0")"
      state="$(in_host "$host" systemctl is-system-running 2>/dev/null)" || true
      case "$state" in
      running | degraded)
        say "$host: $state after $(secs_since "$t0") s (sshd answered after $t_ssh s)"
        [ "$state" = running ] ||
          say "warning: $host is degraded; failed units: $(in_host "$host" systemctl --failed --no-legend --plain | awk '{ print $1 }' | tr '\n' ' ')"
        return 0
        ;;
      esac
    fi
    if ! supervisor_pid "$host" >/dev/null && ! pid1_of "$host" >/dev/null; then
      tail -n 25 "$hd/console.log" >&2
      die "$host did not boot (log: $hd/console.log)"
    fi
    if [ $SECONDS -ge $deadline ]; then
      tail -n 15 "$hd/console.log" >&2
      if pid1_of "$host" >/dev/null; then
        state="$(in_host "$host" systemctl is-system-running 2>/dev/null)" || true
        say "$host: failed units: $(in_host "$host" systemctl --failed --no-legend --plain 2>/dev/null | awk '{ print $1 }' | tr '\n' ' ')"
        say "$host: jobs: $(in_host "$host" systemctl list-jobs --no-legend 2>/dev/null | head -n 5 | tr '\n' ';')"
        say "$host: ssh.service says:"
        in_host "$host" journalctl -u ssh.service -n 8 --no-pager -o cat >&2 2>/dev/null || true
      fi
      die "$host is not up after ${timeout}s (sshd on $(addr_of "$host"): $(ssh_ok "$host" && echo answers || echo 'does not answer'), systemd: ${state:-unknown}; log: $hd/console.log)"
    fi
    sleep 0.2
  done
}

# Is something listening on hI's sshd address already (another rig, or a stray sshd)?
address_taken() {
  [ -n "$(ss -H -ltn "src $(addr_of "$1"):22" 2>/dev/null)" ]
}

# Boots the given hosts that do not run (in parallel) and waits for all of them.
boot_hosts() {
  local host pids=() failed=() todo=()
  for host in "$@"; do
    host_running "$host" && continue
    if address_taken "$host"; then
      die "$host: something already listens on $(addr_of "$host"):22 (a host of another rig? see: ss -ltnp 'src $(addr_of "$host")')"
    fi
    todo+=("$host")
  done
  for host in "${todo[@]}"; do
    if [ -f "$dir/$host/persistent" ]; then prepare_persistent_root "$host"; fi
    printf '\n' >>"$dir/$host/console.log"
    launch_host "$host"
  done
  for host in "$@"; do
    (wait_ready "$host") &
    pids+=($!)
  done
  local i=0
  for host in "$@"; do
    wait "${pids[$i]}" || failed+=("$host")
    i=$((i + 1))
  done
  [ ${#failed[@]} -eq 0 ] || die "not up: ${failed[*]}"
}

lock_dir() {
  mkdir -p "$dir"
  exec 7>"$dir/.lock"
  flock -w 600 7 || die "another $prog holds $dir/.lock"
}

check_port_22() {
  # sshd in a host listens on 127.0.1.I:22 in the machine's own network: a wildcard listener
  # on port 22 of the machine would take it first.
  if ss -H -ltn 2>/dev/null | awk '{ print $4 }' | grep -q -x -E '(0\.0\.0\.0|\*|\[::\]):22'; then
    die "something on this machine listens on *:22 (its own sshd?): the hosts' sshd on 127.0.1.N:22 cannot bind; make it listen on specific addresses"
  fi
}

write_lists() { # the hosts h1..hN
  local n="$1" i tmp="$dir/known_hosts.tmp" key
  : >"$tmp"
  for i in $(seq 1 "$n"); do
    key="$dir/h$i/ssh/ssh_host_ed25519_key"
    [ -f "$key.orig.pub" ] && key="$key.orig"
    echo "127.0.1.$i $(cut -d' ' -f1,2 "$key.pub")" >>"$tmp"
  done
  mv "$tmp" "$dir/known_hosts"
  seq 1 "$n" | sed 's/^/127.0.1./' >"$dir/hosts.tmp"
  mv "$dir/hosts.tmp" "$dir/hosts"
}

cmd_start() {
  local n="$1" persistent="$2" i host started
  [[ "$n" =~ ^[1-9][0-9]*$ ]] && [ "$n" -le 254 ] || die "start needs a host count from 1 to 254, not '$n'"
  started="$(now_ms)"
  ensure_image
  lock_dir
  check_port_22
  mkdir -p "$dir/shared"
  chmod 0755 "$dir" "$dir/shared"
  if [ ! -f "$dir/id_ed25519" ] || [ ! -f "$dir/id_ed25519.pub" ]; then
    rm -f "$dir/id_ed25519" "$dir/id_ed25519.pub"
    ssh-keygen -q -t ed25519 -N '' -C "kafkactl-hosts" -f "$dir/id_ed25519"
  fi
  local hosts=()
  for i in $(seq 1 "$n"); do hosts+=("h$i"); done
  local p
  for p in ${persistent//,/ }; do
    i="$(host_index "$p")"
    [ "$i" -le "$n" ] || die "--persistent $p: not one of h1..h$n"
  done
  for host in "${hosts[@]}"; do
    prepare_host "$host"
    if [[ ",$persistent," == *",$host,"* ]]; then
      touch "$dir/$host/persistent"
    elif [ -f "$dir/$host/persistent" ]; then
      if host_running "$host"; then
        say "warning: $host runs as a persistent host; stop it to boot it ephemeral"
      else
        rm -f "$dir/$host/persistent"
      fi
    fi
  done
  boot_hosts "${hosts[@]}"
  write_lists "$n"
  local more=()
  for host in $(all_hosts); do
    [ "$(host_index "$host")" -le "$n" ] || ! host_running "$host" || more+=("$host")
  done
  [ ${#more[@]} -eq 0 ] || say "note: ${more[*]} run too but are not in $dir/hosts (stop them: $prog stop ${more[*]})"
  say "$n host(s) up in $(secs_since "$started") s: ${hosts[*]} at 127.0.1.1..127.0.1.$n (eval \"\$($self env --dir $dir)\")"
}

cmd_boot() {
  local host="$1" started
  need_host "$host"
  started="$(now_ms)"
  ensure_image
  lock_dir
  check_port_22
  prepare_host "$host"
  boot_hosts "$host"
  say "$host up in $(secs_since "$started") s"
}

# Cleans up after hI's container is gone: pid files, its leftover copy, its cgroups.
cleanup_host() {
  local host="$1" hd="$dir/$1" copy=""
  [ -f "$hd/copy" ] && copy="$(cat "$hd/copy")"
  rm -f "$hd/pid1" "$hd/nspawn.pid" "$hd/copy"
  supervisor_pid "$host" >/dev/null || rm -f "$hd/supervisor.pid"
  remove_cgroups "$host"
  sweep_copies ${copy:+"$copy"}
}

# Waits (bounded) until hI's supervisor, nspawn and PID 1 are gone; kills what lingers. With
# `term`, an nspawn that the supervisor started meanwhile (a reboot under way) gets its SIGTERM
# too (once: a second SIGTERM makes nspawn kill the container instead of powering it off).
wait_down() {
  local host="$1" deadline="$2" term="${3:-}" pid termed="${4:-}"
  while host_running "$host"; do
    if [ -n "$term" ] && pid="$(nspawn_pid "$host")" && [ "$pid" != "$termed" ]; then
      kill -TERM "$pid" 2>/dev/null || true
      termed="$pid"
    fi
    if [ $SECONDS -ge "$deadline" ]; then
      say "$host did not power off within ${stop_timeout}s: killing it"
      if pid="$(pid1_of "$host")"; then kill -KILL "$pid" 2>/dev/null || true; fi
      sleep 2
      if pid="$(nspawn_pid "$host")"; then kill -KILL "$pid" 2>/dev/null || true; fi
      if pid="$(supervisor_pid "$host")"; then kill -KILL "$pid" 2>/dev/null || true; fi
      sleep 0.5
      break
    fi
    sleep 0.1
  done
  cleanup_host "$host"
}

cmd_stop() {
  local hosts=("$@") host pid
  [ ${#hosts[@]} -gt 0 ] || mapfile -t hosts < <(all_hosts)
  if [ ${#hosts[@]} -eq 0 ]; then
    say "no hosts in $dir"
    return 0
  fi
  for host in "${hosts[@]}"; do need_host "$host"; done
  lock_dir
  local termed=()
  for host in "${hosts[@]}"; do
    touch "$dir/$host/down"
    if pid="$(nspawn_pid "$host")"; then
      kill -TERM "$pid" 2>/dev/null || true
    elif pid="$(pid1_of "$host")"; then
      # Its nspawn is gone (killed): ask systemd itself to power off.
      kill -s RTMIN+3 "$pid" 2>/dev/null || true
    fi
    termed+=("${pid:-}")
  done
  local deadline=$((SECONDS + stop_timeout)) i=0
  for host in "${hosts[@]}"; do
    wait_down "$host" "$deadline" term "${termed[$i]}"
    i=$((i + 1))
  done
  sweep_copies
  say "stopped: ${hosts[*]}"
}

cmd_crash() {
  local host="$1" pid
  need_host "$host"
  lock_dir
  pid="$(pid1_of "$host")" || die "$host is not running"
  touch "$dir/$host/down"
  kill -KILL "$pid"
  wait_down "$host" $((SECONDS + stop_timeout))
  say "$host crashed (its PID 1, $pid, killed)"
}

cmd_reboot() {
  local host="$1" pid started
  need_host "$host"
  pid="$(pid1_of "$host")" || die "$host is not running"
  supervisor_pid "$host" >/dev/null || die "$host has no supervisor to boot it again (stop and boot it)"
  started="$(now_ms)"
  in_host "$host" systemctl reboot || say "warning: systemctl reboot in $host said $?"
  local deadline=$((SECONDS + timeout))
  while [ -d "/proc/$pid" ] && is_ns_init "$pid"; do
    [ $SECONDS -lt $deadline ] || die "$host did not shut down for the reboot within ${timeout}s"
    sleep 0.1
  done
  (wait_ready "$host") || die "$host did not come back after the reboot"
  say "$host rebooted in $(secs_since "$started") s"
}

cmd_exec() {
  local host="$1" pid
  shift
  need_host "$host"
  [ $# -gt 0 ] || die "exec needs a command"
  pid="$(pid1_of "$host")" || die "$host is not running"
  enter "$pid" "$@"
}

cmd_install_deb() {
  local file="$1" host pids=() failed=() hosts
  shift
  [ -f "$file" ] || die "no such file: $file"
  if [ $# -gt 0 ]; then
    hosts=("$@")
  else
    hosts=()
    for host in $(all_hosts); do pid1_of "$host" >/dev/null && hosts+=("$host"); done
  fi
  [ ${#hosts[@]} -gt 0 ] || die "no running hosts in $dir"
  local name
  name="kafkactl-install-$$-$(basename "$file")"
  for host in "${hosts[@]}"; do
    need_host "$host"
    pid1_of "$host" >/dev/null || die "$host is not running"
  done
  for host in "${hosts[@]}"; do
    (
      set -e
      pid="$(pid1_of "$host")"
      cp "$file" "/proc/$pid/root/var/tmp/$name"
      rc=0
      in_host "$host" env DEBIAN_FRONTEND=noninteractive dpkg -i "/var/tmp/$name" || rc=$?
      in_host "$host" rm -f "/var/tmp/$name" || true
      exit $rc
    ) >"$dir/$host/install-deb.log" 2>&1 &
    pids+=($!)
  done
  local i=0
  for host in "${hosts[@]}"; do
    if ! wait "${pids[$i]}"; then
      failed+=("$host")
      say "$host: dpkg -i $(basename "$file") failed:"
      tail -n 20 "$dir/$host/install-deb.log" | sed "s/^/  $host: /" >&2
    fi
    i=$((i + 1))
  done
  [ ${#failed[@]} -eq 0 ] || die "install-deb failed on: ${failed[*]} (logs: $dir/hI/install-deb.log)"
  say "installed $(basename "$file") on ${hosts[*]}"
}

# After a key change: restart sshd inside (when the host runs) and wait until it serves the key.
restart_sshd() {
  local host="$1"
  write_current_known "$host"
  pid1_of "$host" >/dev/null || return 0
  in_host "$host" systemctl reset-failed ssh.service 2>/dev/null || true
  in_host "$host" systemctl restart ssh.service || die "$host: restarting sshd failed"
  local deadline=$((SECONDS + 15))
  until ssh_ok "$host"; do
    [ $SECONDS -lt $deadline ] || die "$host: sshd does not answer with its new key"
    sleep 0.1
  done
}

cmd_swap_key() {
  local host="$1" k
  need_host "$host"
  k="$dir/$host/ssh/ssh_host_ed25519_key"
  if [ ! -f "$k.orig" ]; then
    mv "$k" "$k.orig"
    mv "$k.pub" "$k.orig.pub"
  fi
  rm -f "$k" "$k.pub"
  ssh-keygen -q -t ed25519 -N '' -C "root@$host (swapped)" -f "$k"
  restart_sshd "$host"
  say "$host serves a new host key ($dir/known_hosts has the original one)"
}

cmd_restore_key() {
  local host="$1" k
  need_host "$host"
  k="$dir/$host/ssh/ssh_host_ed25519_key"
  if [ ! -f "$k.orig" ]; then
    say "$host already serves its original host key"
    return 0
  fi
  mv "$k.orig" "$k"
  mv "$k.orig.pub" "$k.pub"
  restart_sshd "$host"
  say "$host serves its original host key again"
}

cmd_env() {
  [ -f "$dir/hosts" ] || die "no hosts in $dir: run $prog start N first"
  echo "export KAFKACTL_HOSTS_DIR=$dir"
  echo "export KAFKACTL_HOSTS_KEY=$dir/id_ed25519"
  echo "export KAFKACTL_HOSTS_KNOWN=$dir/known_hosts"
  echo "export KAFKACTL_HOSTS_LIST=$(paste -sd, "$dir/hosts")"
}

cmd_status() {
  local host all=0 any=0 pid extra state
  for host in $(all_hosts); do
    any=1
    extra=""
    [ -f "$dir/$host/persistent" ] && extra=", persistent"
    if pid="$(pid1_of "$host")"; then
      if ssh_ok "$host"; then state="sshd answers"; else
        state="sshd does not answer"
        all=3
      fi
      echo "$host: running (PID 1 = $pid, $(addr_of "$host"), $state$extra)"
    elif supervisor_pid "$host" >/dev/null; then
      echo "$host: booting ($(addr_of "$host")$extra)"
      all=3
    else
      echo "$host: stopped ($(addr_of "$host")$extra)"
      all=3
    fi
  done
  [ $any -eq 1 ] || {
    echo "no hosts in $dir"
    exit 3
  }
  exit $all
}

# ---------------------------------------------------------------------------------------------

# All of the script is read before anything runs: a supervisor runs for as long as its host,
# and bash would otherwise go on reading this file (perhaps edited meanwhile) when it ends.
main() {
  cmd=""
  persistent=""
  args=()
  while [ $# -gt 0 ]; do
    # exec: everything after the host name is the command, verbatim.
    if [ "$cmd" = exec ] && [ ${#args[@]} -ge 1 ]; then
      [ "$1" = "--" ] && shift
      args+=("$@")
      break
    fi
    case "$1" in
    --dir)
      [ $# -ge 2 ] || die "--dir needs a directory"
      dir="$2"
      shift 2
      ;;
    --dir=*)
      dir="${1#--dir=}"
      shift
      ;;
    --persistent)
      [ $# -ge 2 ] || die "--persistent needs host names (h1,h2)"
      persistent="$2"
      shift 2
      ;;
    --persistent=*)
      persistent="${1#--persistent=}"
      shift
      ;;
    -h | --help) usage ;;
    -*) die "unknown option $1" ;;
    *)
      if [ -z "$cmd" ]; then cmd="$1"; else args+=("$1"); fi
      shift
      ;;
    esac
  done
  [ -n "$dir" ] || die "--dir is empty"
  case "$dir" in
  *:* | *,*) die "DIR must not contain ':' or ',' (nspawn bind mounts): $dir" ;;
  esac
  mkdir -p "$(dirname "$dir")"
  dir="$(cd "$(dirname "$dir")" && pwd)/$(basename "$dir")"
  [[ "$timeout" =~ ^[0-9]+$ ]] || die "KAFKACTL_HOSTS_TIMEOUT must be a number of seconds"
  case "$ephemeral" in
  overlay | copy) ;;
  *) die "KAFKACTL_HOSTS_EPHEMERAL must be overlay or copy, not '$ephemeral'" ;;
  esac

  case "$cmd" in
  "" | help) usage ;;
  env) ;;
  *) [ "$(id -u)" -eq 0 ] || die "run as root (it boots containers)" ;;
  esac

  nargs() { # command min max
    [ ${#args[@]} -ge "$2" ] && [ ${#args[@]} -le "$3" ] || die "usage: $prog $1 (see $prog --help)"
  }

  case "$cmd" in
  image)
    nargs "image" 0 0
    cmd_image
    ;;
  start)
    nargs "start N [--persistent hI,...]" 1 1
    cmd_start "${args[0]}" "$persistent"
    ;;
  stop) cmd_stop "${args[@]}" ;;
  crash)
    nargs "crash hI" 1 1
    cmd_crash "${args[0]}"
    ;;
  boot)
    nargs "boot hI" 1 1
    cmd_boot "${args[0]}"
    ;;
  reboot)
    nargs "reboot hI" 1 1
    cmd_reboot "${args[0]}"
    ;;
  exec)
    nargs "exec hI CMD..." 2 100000
    cmd_exec "${args[@]}"
    ;;
  install-deb)
    nargs "install-deb FILE [hI ...]" 1 100000
    cmd_install_deb "${args[@]}"
    ;;
  swap-key)
    nargs "swap-key hI" 1 1
    cmd_swap_key "${args[0]}"
    ;;
  restore-key)
    nargs "restore-key hI" 1 1
    cmd_restore_key "${args[0]}"
    ;;
  env)
    nargs "env" 0 0
    cmd_env
    ;;
  status)
    nargs "status" 0 0
    cmd_status
    ;;
  __supervise)
    nargs "__supervise hI" 1 1
    cmd_supervise "${args[0]}"
    ;;
  *) die "unknown command '$cmd' (see $prog --help)" ;;
  esac
}

main "$@"; exit $?
