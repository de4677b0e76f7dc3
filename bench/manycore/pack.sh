#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# pack.sh BASE_REF OUT - a bundle for a many-core machine that has no
# packages and no network: this tree's benchmark programs, those of the git
# ref BASE_REF (named *_base: the "before"), the peers of bench/peers, every
# shared library they load (glibc and its loader included) and run.sh.
# Copy OUT there and run OUT/run.sh; then bench/manycore/medians.py on the
# raw files.  Run from the project root, e.g.
#     bench/manycore/pack.sh main /tmp/manycore
set -euo pipefail
base_ref=${1:?base git ref}; out=${2:?output dir}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
progs="w1_pool w2_pool w3_loop w4_loop w5_loop w6_pool pagetouch"
make -j2 benches >/dev/null
scripts/ensure-deps.sh peers
make -C bench/peers OUT="$root/build/bench/peers" >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git archive "$base_ref" | tar -x -C "$tmp"
(cd "$tmp" && make -j2 benches >/dev/null)
rm -rf "$out"; mkdir -p "$out/bin" "$out/lib"
for p in $progs; do
    cp "build/bench/$p" "$out/bin/"
    [ -x "$tmp/build/bench/$p" ] && cp "$tmp/build/bench/$p" "$out/bin/${p}_base"
done
cp build/bench/peers/glib build/bench/peers/tbb build/bench/peers/uv build/bench/peers/bfiber "$out/bin/"
for b in "$out"/bin/*; do ldd "$b" 2>/dev/null | awk '/=>/ {print $3}'; done | sort -u |
    while read -r l; do [ -f "$l" ] && cp -L "$l" "$out/lib/"; done
cp -L /lib64/ld-linux-x86-64.so.2 "$out/lib/"
cp bench/manycore/run.sh "$out/"
echo "$(git rev-parse --short HEAD) vs $base_ref ($(git rev-parse --short "$base_ref"))" >"$out/VERSIONS"
du -sh "$out"
