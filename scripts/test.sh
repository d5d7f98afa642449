#!/usr/bin/env bash
# Runs kafkactl's whole test suite: formatting, lints, unit tests, and integration tests that
# drive the real binary against the dev broker AND Apache Kafka, Redis clients and Ruby.
# Usage: scripts/test.sh [extra nextest/cargo-test filter arguments]   (applied to every pass)
# scripts/soak.sh runs it several times, in a row and at once, with these knobs:
#   KAFKACTL_DEB=FILE           test this package instead of building one
#   KAFKACTL_TEST_HOSTS_UP=1    the booted hosts are up and stay up (the caller's)
#   KAFKACTL_TEST_QUICKSTART=0  skip the quickstarts (they share one user manager's units)
set -euo pipefail
cd "$(dirname "$0")/.."
# Every stage says when it started, so a CI log shows where the time goes.
stage() { echo "== [$(date -u +%H:%M:%S), ${SECONDS}s] $*"; }
STOP_HOSTS=0 # set once this script has booted the hosts: it powers them off at the end
on_exit() {
  local rc=$?
  if [ "$STOP_HOSTS" = 1 ]; then bash scripts/hosts.sh stop >/dev/null 2>&1 || true; fi
  echo "== scripts/test.sh: exit $rc after ${SECONDS}s"
}
trap on_exit EXIT

bash scripts/deps.sh

# CI clones the repository afresh for every run: keep the compiled dependencies (librdkafka's
# and libssh2's C builds above all) where the next run finds them, and drop the previous runs'
# builds of kafkactl itself (each clone's path makes its own), so the cache does not grow.
if [ -n "${CI:-}" ] && [ -z "${CARGO_TARGET_DIR:-}" ]; then
  export CARGO_TARGET_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/kafkactl/target"
  mkdir -p "$CARGO_TARGET_DIR"
  echo "== CI: cargo target directory $CARGO_TARGET_DIR (kept between runs)"
  cargo clean --quiet -p kafkactl 2>/dev/null || true
fi

stage "cargo fmt --check"
cargo fmt --all -- --check

stage "cargo clippy"
cargo clippy --all-targets --locked -- -D warnings

stage "systemd user manager (test rig)"
bash scripts/systemd-user.sh start
eval "$(bash scripts/systemd-user.sh env)"

stage "the Debian package and the booted test hosts (scripts/package-deb.sh, scripts/hosts.sh)"
# tests/hosts.rs installs this package on four booted Debian 12 hosts (systemd-nspawn: systemd
# as PID 1, journald, sshd on 127.0.1.1-4) and runs the system scope there. The image is built
# once (debootstrap) and cached in ~/.cache/kafkactl; the hosts are powered off at the end.
if [ "$(id -u)" -eq 0 ]; then
  if [ -n "${KAFKACTL_DEB:-}" ] && [ -f "$KAFKACTL_DEB" ]; then
    echo "testing the given package $KAFKACTL_DEB"
  else
    KAFKACTL_DEB="$(bash scripts/package-deb.sh)"
  fi
  export KAFKACTL_DEB
  if [ "${KAFKACTL_TEST_HOSTS_UP:-0}" = 1 ]; then
    echo "the booted hosts are the caller's (KAFKACTL_TEST_HOSTS_UP=1)"
  else
    STOP_HOSTS=1
    bash scripts/hosts.sh start 4 --persistent h4
  fi
else
  echo "not root: no booted test hosts (systemd-nspawn needs root), so tests/hosts.rs will fail"
fi

stage "Apache Kafka (scripts/kafka.sh fetch: a JDK, Maven, and the pinned broker's jars, cached)"
bash scripts/kafka.sh fetch

# The tests that need a broker run twice: on the dev broker (librdkafka's mock, fast) and on
# Apache Kafka itself (one KRaft node per test, started by tests/common/kafka.rs through
# scripts/kafka.sh). tests/real_kafka.rs and tests/kafka_failover.rs always use Apache Kafka
# (one node, or a 3-node cluster for the failover drills) and run in the first pass.
# KAFKACTL_TEST_BROKERS="dev" or "kafka" runs one pass only.
# An entry is a module of tests/ (all its tests) or a module::test-name prefix. On the booted
# hosts, what depends on the broker is that the consumers consume, before and after a reboot;
# the rest of tests/hosts.rs is about systemd and SSH and runs in the first pass only.
BROKER_TESTS=(proxy_commands proxy_groups proxy_systemd ruby_client worker worker_systemd lag_check
  hosts::consumers_run_from_the_package hosts::a_rebooted_host)
passes="${KAFKACTL_TEST_BROKERS:-dev kafka}"

test_prefix() { # a module name -> "module::"; a module::test prefix as it is
  case "$1" in *::*) echo "$1" ;; *) echo "$1::" ;; esac
}

run_suite() { # run_suite [--only-broker-tests] [extra cargo arguments...]
  local only=0
  if [ "${1:-}" = --only-broker-tests ]; then
    only=1
    shift
  fi
  # Every integration test is in one binary (tests/lib.rs); its modules are the files of tests/.
  local t
  if cargo nextest --version >/dev/null 2>&1; then
    local filter=()
    if [ $only -eq 1 ]; then
      local expr=""
      for t in "${BROKER_TESTS[@]}"; do expr+="${expr:+|}$(test_prefix "$t")"; done
      filter=(-E "binary(integration) & test(/^($expr)/)")
    fi
    cargo nextest run --locked --profile ci "${filter[@]}" "$@"
  elif [ $only -eq 1 ]; then
    local names=()
    for t in "${BROKER_TESTS[@]}"; do names+=("$(test_prefix "$t")"); done
    cargo test --locked --no-fail-fast --test integration "$@" -- "${names[@]}"
  else
    cargo test --locked --no-fail-fast "$@"
  fi
}

for pass in $passes; do
  case "$pass" in
  dev)
    stage "tests (broker-dependent ones on the dev broker)"
    KAFKACTL_TEST_BROKER=dev run_suite "$@"
    ;;
  kafka)
    stage "broker-dependent tests on Apache Kafka (KAFKACTL_TEST_BROKER=kafka)"
    KAFKACTL_TEST_BROKER=kafka run_suite --only-broker-tests "$@"
    ;;
  *)
    echo "test.sh: KAFKACTL_TEST_BROKERS: unknown pass '$pass' (dev, kafka)" >&2
    exit 2
    ;;
  esac
done

# The README's quickstart, from a clean clone (the whole suite only, not a filtered run), on
# each broker of the passes.
if [ $# -eq 0 ] && [ "${KAFKACTL_TEST_QUICKSTART:-1}" != 0 ]; then
  for pass in $passes; do
    if [ "$pass" = kafka ]; then
      stage "quickstart on Apache Kafka (scripts/quickstart-check.sh --kafka)"
      bash scripts/quickstart-check.sh --kafka
    else
      stage "quickstart (scripts/quickstart-check.sh)"
      bash scripts/quickstart-check.sh
    fi
  done
fi
