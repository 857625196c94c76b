#!/bin/bash -eu
# Builds every cargo-fuzz target of rowguard into $OUT, with its seed corpus
# (zip) and the shared SQL dictionary, as ClusterFuzzLite / OSS-Fuzz expect.
# In the base-builder image $SANITIZER is address/undefined/coverage and
# cargo-fuzz's defaults apply; `SANITIZER=none` (the local test) builds on
# the stable toolchain.
cd "$SRC/rowguard"
flags=(-O)
if [ "${SANITIZER:-address}" = "none" ]; then
  flags+=(--sanitizer none)
fi
cargo fuzz build "${flags[@]}"

triple=$(rustc -vV | sed -n 's/^host: //p')
bin_dir="fuzz/target/$triple/release"

zip_dir() { # zip_dir OUTFILE DIR: every file of DIR, flat
  rm -f "$1"
  if command -v zip >/dev/null 2>&1; then
    (cd "$2" && zip -q -j "$1" ./*)
  else
    python3 -c 'import sys, zipfile, pathlib
with zipfile.ZipFile(sys.argv[1], "w") as z:
    for p in sorted(pathlib.Path(sys.argv[2]).iterdir()):
        if p.is_file(): z.write(p, p.name)' "$1" "$2"
  fi
}

for target in $(cargo fuzz list); do
  cp "$bin_dir/$target" "$OUT/$target"
  cp fuzz/rowguard.dict "$OUT/$target.dict"
  if [ -d "corpus/$target" ] && [ -n "$(ls -A "corpus/$target")" ]; then
    zip_dir "$OUT/${target}_seed_corpus.zip" "$PWD/corpus/$target"
  fi
done
