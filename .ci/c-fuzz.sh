#!/usr/bin/env bash
# The tripwire's C module, fuzzed: its parser of client bytes and its SHA-256
# (crates/guard/pg/arm.c, sha256.c: plain C, no server headers) under
# libFuzzer, AddressSanitizer and UndefinedBehaviorSanitizer.
#
#   .ci/c-fuzz.sh [SECONDS]    # default 60: the fuzzing budget
#
# 1. installs Debian's clang when it is missing (and libclang-rt-14-dev when
#    -fsanitize=fuzzer does not link);
# 2. the regression harness (fuzz/replay.c, no libFuzzer, ASan + UBSan): every
#    committed seed in crates/guard/pg/fuzz/corpus/arm through the parser,
#    "ok-*" accepted and "bad-*" refused;
# 3. the libFuzzer target (fuzz/arm_fuzz.c) for SECONDS over a scratch copy
#    of those seeds (the committed corpus is never written).
# Any sanitizer report, broken check or wrong verdict fails the script; a
# crashing input is left in target/c-fuzz/ for the log.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
src=crates/guard/pg
out=target/c-fuzz
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

links() {
  printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long s) { return 0; }\n' > "$out/probe.c"
  clang -fsanitize=fuzzer,address,undefined "$out/probe.c" -o "$out/probe" >/dev/null 2>&1
}

mkdir -p "$out"
if ! command -v clang >/dev/null 2>&1; then
  echo "c-fuzz: no clang; installing Debian's clang" >&2
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq clang >/dev/null
fi
if ! links; then
  echo "c-fuzz: -fsanitize=fuzzer does not link; installing libclang-rt-14-dev" >&2
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq libclang-rt-14-dev >/dev/null
  links || { echo "c-fuzz: clang cannot link -fsanitize=fuzzer,address,undefined" >&2; exit 1; }
fi

flags=(-g -O1 -Wall -Wextra -Werror -fno-omit-frame-pointer -fno-sanitize-recover=all -I"$src" -I"$src/fuzz")
sources=("$src/arm.c" "$src/sha256.c" "$src/fuzz/arm_fuzz.c")

echo "-- the regression harness over the committed seeds (ASan + UBSan, no fuzzer)"
clang "${flags[@]}" -fsanitize=address,undefined -DARM_FUZZ_NO_MAIN "${sources[@]}" "$src/fuzz/replay.c" -o "$out/replay"
"$out/replay" "$src"/fuzz/corpus/arm/*

echo "-- libFuzzer + ASan + UBSan, ${seconds} s"
clang "${flags[@]}" -fsanitize=fuzzer,address,undefined "${sources[@]}" -o "$out/arm_fuzz"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cp "$src"/fuzz/corpus/arm/* "$scratch/"
"$out/arm_fuzz" "$scratch" -max_total_time="$seconds" -max_len=1024 -print_final_stats=1 \
    -artifact_prefix="$out/" 2>"$out/arm_fuzz.log" \
  || { tail -n 40 "$out/arm_fuzz.log" >&2; echo "c-fuzz: the arm parser failed under the fuzzer (input in $out/)" >&2; exit 1; }
grep -E "^stat::number_of_executed_units|^#[0-9]+ +DONE" "$out/arm_fuzz.log" | tail -n 2
echo "c-fuzz: passed"
