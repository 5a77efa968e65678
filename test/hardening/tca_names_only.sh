#!/bin/sh
# usage: tca_names_only.sh IN.a OUT.a
# Copies a static tcarena archive (meson's are thin: members are paths) with
# every exported name but the tca_* ones made local: a program linked with it
# keeps its usual malloc (a sanitizer's, libFuzzer's) and reaches tcarena only
# through tca_*.  Hidden names stay global, so the objects still link together.
set -eu
out=$(realpath "$2")
work="$out.d"
rm -rf "$work" "$out"
mkdir -p "$work"
cd "$(dirname "$1")"
members=$(ar t "$(basename "$1")")
# shellcheck disable=SC2086 # one word per member path
readelf -sW $members |
    awk '($5 == "GLOBAL" || $5 == "WEAK") && $6 == "DEFAULT" && $7 != "UND" && $8 !~ /^tca_/ { print $8 }' |
    sort -u >"$work/names"
n=0
for member in $members; do
    n=$((n + 1))
    objcopy --localize-symbols="$work/names" "$member" "$work/$n-$(basename "$member")"
done
ar rcs "$out" "$work"/*.o
