#!/usr/bin/env bash
# Runs the README's quickstart from a clean clone of this repository's HEAD and checks what it
# printed: the deploy converged, both PriceDropsConsumer instances are active and consumed the
# demo events (offsets moved between the two status rounds), the Ruby consumer found price
# drops; then `down` stops everything. scripts/test.sh runs it last (CI), on the dev broker
# and with --kafka on Apache Kafka.
#   scripts/quickstart-check.sh [--keep] [--kafka]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KEEP=""
MODE=()
for arg in "$@"; do
  case "$arg" in
  --keep) KEEP=--keep ;;
  --kafka) MODE=(--kafka) ;;
  *) echo "usage: scripts/quickstart-check.sh [--keep] [--kafka]" >&2; exit 2 ;;
  esac
done
WORK=$(mktemp -d "${TMPDIR:-/tmp}/quickstart-check.XXXXXX")
CLONE=$WORK/kafkactl
# CI's checkout is itself a clean clone: there the quickstart runs in it, so that its release
# build is the one scripts/package-deb.sh already made (a second clone's fresh file times would
# rebuild kafkactl, about 1.75 minutes per quickstart). Only a checkout with nothing modified
# or untracked qualifies; its .run/ (ignored, written only by the quickstart) starts empty.
IN_PLACE=0
if [ -n "${CI:-}" ] && [ -z "$(git -C "$ROOT" status --porcelain)" ]; then
  IN_PLACE=1
  CLONE=$ROOT
fi
OUT=$WORK/quickstart.out
fail() { echo "quickstart-check: FAILED: $*" >&2; echo "--- quickstart output ($OUT):" >&2; cat "$OUT" >&2 || true; exit 1; }
cleanup() {
  local rc=$?
  [ -d "$CLONE" ] && (cd "$CLONE" && bash scripts/quickstart.sh down >/dev/null 2>&1 || true)
  if [ "$KEEP" = --keep ] || [ "$rc" != 0 ]; then echo "quickstart-check: kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

if [ $IN_PLACE = 1 ]; then
  rm -rf "$ROOT/.run"
else
  git clone -q "$ROOT" "$CLONE"
fi
# The clone builds into this checkout's target directory: same dependencies, no second cold
# build (only the kafkactl crate itself is rebuilt for the clone's path).
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
echo "== quickstart ${MODE[*]} from a clean clone ($CLONE$([ $IN_PLACE = 1 ] && echo ", CI's own"))"
(cd "$CLONE" && timeout 1800 bash scripts/quickstart.sh "${MODE[@]}" </dev/null) >"$OUT" 2>&1 ||
  fail "scripts/quickstart.sh exited $?"
sed 's/^/    | /' "$OUT" | tail -45

grep -q "deploy: 1 host(s) converged" "$OUT" || fail "the deploy did not converge"
for n in 1 2; do
  grep -q "kafka-consumer@price_drops:$n.service" "$OUT" || fail "instance $n missing from status"
done
# The STATUS lines printed at the end name an offset: both instances handled events.
statuses=$(grep -c "myapp-price_drops:.*-price_drops-[12] (offset=[0-9]" "$OUT" || true)
[ "$statuses" -ge 2 ] || fail "expected both instances' STATUS lines with an offset, found $statuses"
grep -q "price drops found by the Ruby PriceDropsConsumer" "$OUT" || fail "the Ruby consumer reported no price drop"
# Offsets moved: the committed offsets summed over the lag table grow from round 1 to 2.
sum_round() { # sum_round N: sum of the COMMITTED column of the Nth `status --lag` output
  # The lag table is plain columns off a terminal, two or more spaces apart, `-` for unknown.
  awk -v want="$1" '
    /status --lag/ { round++; col = 0; next }
    round != want { next }
    { line = $0; sub(/^ +/, "", line); n = split(line, f, /  +/) }
    !col { for (i = 1; i <= n; i++) if (f[i] == "COMMITTED") col = i; next }
    /^ *(note:|==>)/ || n < col { next }
    f[col] ~ /^[0-9]+$/ { sum += f[col] }
    END { print sum + 0 }' "$OUT"
}
r1=$(sum_round 1) r2=$(sum_round 2)
[ "$r2" -gt "$r1" ] || fail "committed offsets did not move between the rounds ($r1 -> $r2)"
echo "quickstart-check: committed offsets $r1 -> $r2"

(cd "$CLONE" && bash scripts/quickstart.sh down) >"$WORK/down.out" 2>&1 || fail "quickstart.sh down failed"
eval "$(bash "$ROOT/scripts/systemd-user.sh" env)"
for n in 1 2; do
  state=$(systemctl --user show -p ActiveState --value "kafka-consumer@price_drops:$n.service")
  [ "$state" = inactive ] || fail "kafka-consumer@price_drops:$n is $state after down"
done
state=$(systemctl --user show -p ActiveState --value kafkactl-proxy.service)
[ "$state" = inactive ] || fail "kafkactl-proxy is $state after down"
if [ ${#MODE[@]} -gt 0 ] && bash "$CLONE/scripts/kafka.sh" status --dir "$CLONE/.run/kafka" >/dev/null 2>&1; then
  fail "down left Apache Kafka running"
fi
if systemctl --user show-environment | grep -q '^KAFKACTL_BROKERS='; then
  fail "down left KAFKACTL_BROKERS in the user manager's environment"
fi
echo "quickstart-check: OK"
