#!/usr/bin/env bash
# Runs .clusterfuzzlite/build.sh without Docker, as the base-builder image
# would ($SRC holding the project, $OUT empty, stable toolchain with
# SANITIZER=none), then checks that every produced target runs its seed
# corpus on `safe` and exits 0.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src" "$work/out"
ln -s "$root" "$work/src/rowguard"
SRC="$work/src" OUT="$work/out" SANITIZER=none bash "$root/.clusterfuzzlite/build.sh"

targets=$(cd "$root" && cargo fuzz list)
for t in $targets; do
  [ -x "$work/out/$t" ] || { echo "cflite: $t was not built into \$OUT" >&2; exit 1; }
  [ -f "$work/out/$t.dict" ] || { echo "cflite: $t has no dictionary in \$OUT" >&2; exit 1; }
  seeds="$work/seeds-$t"
  mkdir -p "$seeds"
  if [ -f "$work/out/${t}_seed_corpus.zip" ]; then
    python3 -m zipfile -e "$work/out/${t}_seed_corpus.zip" "$seeds" 2>/dev/null || (cd "$seeds" && unzip -q "$work/out/${t}_seed_corpus.zip")
  fi
  n=$(ls "$seeds" | wc -l)
  ROWGUARD_PIPELINE=safe "$work/out/$t" -dict="$work/out/$t.dict" -runs=2000 "$seeds" >"$work/$t.log" 2>&1 \
    || { tail -20 "$work/$t.log" >&2; echo "cflite: $t failed on its seed corpus" >&2; exit 1; }
  echo "cflite: $t built, ran its $n seed(s) and 2000 more inputs on safe"
done
