#!/usr/bin/env bash
# Runs kafkactl's whole test suite: formatting, lints, unit tests, and integration tests that
# drive the real binary against the real dev broker, Redis clients and Ruby.
# Usage: scripts/test.sh [extra nextest/cargo-test filter arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --all-targets --locked -- -D warnings

echo "== systemd user manager (test rig)"
bash scripts/systemd-user.sh start
eval "$(bash scripts/systemd-user.sh env)"

echo "== fleet of test hosts (test rig: users h1..h3, each with a user manager and an sshd)"
if [ "$(id -u)" -eq 0 ]; then
  bash scripts/fleet-rig.sh start
else
  echo "not root: the fleet rig cannot be set up, so tests/fleet.rs will fail (run as root)"
fi

echo "== tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --locked --profile ci "$@"
else
  cargo test --locked "$@"
fi

# The README's quickstart, from a clean clone (the whole suite only, not a filtered run).
if [ $# -eq 0 ]; then
  echo "== quickstart (scripts/quickstart-check.sh)"
  bash scripts/quickstart-check.sh
fi
