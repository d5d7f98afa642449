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

echo "== tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --locked --profile ci "$@"
else
  cargo test --locked "$@"
fi
