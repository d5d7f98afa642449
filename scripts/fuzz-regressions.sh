#!/usr/bin/env bash
# Refreshes fuzz/regressions/TARGET.hex from a fuzzing run's corpus: minimises
# fuzz/corpus/TARGET with `cargo fuzz cmin` (in a copy, so the corpus itself is kept) and
# writes the inputs left, one per line, hex-encoded (one file per target instead of
# thousands). tests/fuzz_corpora.rs replays them through the targets' checks on every test
# run. Needs the nightly toolchain and cargo-fuzz (docs/fuzzing.md).
#
#   scripts/fuzz-regressions.sh [TARGET...]     (default: every target with a corpus)
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
export CARGO_TARGET_DIR="$PWD/target"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for dir in corpus/*/; do targets+=("$(basename "$dir")"); done
fi
mkdir -p regressions
for t in "${targets[@]}"; do
  work=$(mktemp -d)
  cp -r "corpus/$t/." "$work/"
  cargo +nightly fuzz cmin "$t" "$work" >"$work.log" 2>&1 || {
    tail -20 "$work.log" >&2
    exit 1
  }
  python3 - "$work" "regressions/$t.hex" <<'PY'
import os, sys
src, dst = sys.argv[1], sys.argv[2]
inputs = sorted(open(os.path.join(src, name), "rb").read() for name in os.listdir(src))
with open(dst, "w") as out:
    for data in inputs:
        out.write(data.hex() + "\n")
print(f"{dst}: {len(inputs)} inputs")
PY
  rm -rf "$work" "$work.log"
done
