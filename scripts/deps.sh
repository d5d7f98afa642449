#!/usr/bin/env bash
# Installs the Debian packages kafkactl needs to build and to run its test suite.
# Idempotent: does nothing when everything is already there.
set -euo pipefail

PKGS=(
  # build: rdkafka's bundled librdkafka (cmake-build feature); ssh2's libssh2 is built from
  # source too and needs only libssl-dev and zlib1g-dev
  cmake build-essential pkg-config libssl-dev zlib1g-dev libcurl4-openssl-dev
  # tests: real peers over real protocols (openssh-server: the fleet rig's sshd per test host)
  dbus openssh-server ruby ruby-redis redis-tools procps bc python3
  # tests: `kafkactl top` is driven in a real terminal (send-keys, capture-pane)
  tmux
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
else
  echo "deps: all Debian packages present"
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "deps: cargo not found; install Rust (rustup) first" >&2
  exit 1
fi
