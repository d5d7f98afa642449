#!/usr/bin/env bash
# Runs the whole test suite (scripts/test.sh: both brokers, the booted hosts, Ruby and Python;
# without its quickstarts, which share one user manager's price_drops units) several times in
# a row, then several copies at once. A test that leans on timing, on a fixed port, on another
# test's leftovers or on the rig being idle shows up here: the concurrent copies run every
# test twice at the same time on one machine, sharing the user manager and the hosts through
# the tests' locks, and double the load on each bound.
#
# Usage: scripts/soak.sh [--in-a-row N] [--concurrent M] [--log-dir DIR]   (defaults 5, 2)
# Prints one line per run (exit status, time, tests passed); exits 1 if any run failed.
# Root only (the booted hosts).
set -euo pipefail
cd "$(dirname "$0")/.."

in_a_row=5
concurrent=2
logs=""
while [ $# -gt 0 ]; do
  case "$1" in
  --in-a-row) in_a_row=${2:?--in-a-row needs a count}; shift ;;
  --concurrent) concurrent=${2:?--concurrent needs a count}; shift ;;
  --log-dir) logs=${2:?--log-dir needs a directory}; shift ;;
  -h | --help) sed -n '2,11p' "$0"; exit 0 ;;
  *) echo "soak.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[ "$(id -u)" -eq 0 ] || { echo "soak.sh: needs root (the booted test hosts)" >&2; exit 2; }
logs=${logs:-$(mktemp -d "${TMPDIR:-/tmp}/kafkactl-soak.XXXXXX")}
mkdir -p "$logs"

# The package and the hosts once, for every run: concurrent runs must not rebuild the .deb
# under each other's feet, nor power the hosts off when the first of them ends.
bash scripts/deps.sh
KAFKACTL_DEB="$(bash scripts/package-deb.sh)"
export KAFKACTL_DEB KAFKACTL_TEST_HOSTS_UP=1 KAFKACTL_TEST_QUICKSTART=0
bash scripts/hosts.sh start 4 --persistent h4
trap 'bash scripts/hosts.sh stop >/dev/null 2>&1 || true' EXIT

failed=0
report() { # report NAME STATUS SECONDS: one line per run
  local passed
  passed=$(grep -ho 'test result: [A-Za-z]*\. [0-9]* passed' "$logs/$1.log" | awk '{s += $4} END {print s + 0}')
  local failures
  failures=$(grep -hc '^test .* FAILED$' "$logs/$1.log" || true)
  printf 'soak: %-14s exit %s in %5ss, %4s tests passed, %s failed   (%s)\n' \
    "$1" "$2" "$3" "$passed" "$failures" "$logs/$1.log"
  [ "$2" = 0 ] || failed=1
}

for i in $(seq 1 "$in_a_row"); do
  start=$SECONDS
  rc=0
  bash scripts/test.sh >"$logs/row-$i.log" 2>&1 </dev/null || rc=$?
  report "row-$i" "$rc" $((SECONDS - start))
done

if [ "$concurrent" -gt 0 ]; then
  start=$SECONDS
  pids=()
  for j in $(seq 1 "$concurrent"); do
    bash scripts/test.sh >"$logs/together-$j.log" 2>&1 </dev/null &
    pids+=("$!")
  done
  for j in $(seq 1 "$concurrent"); do
    rc=0
    wait "${pids[$((j - 1))]}" || rc=$?
    report "together-$j" "$rc" $((SECONDS - start))
  done
fi

if [ $failed = 0 ]; then echo "soak: all runs green"; else echo "soak: FAILED (logs in $logs)"; fi
exit $failed
