#!/bin/bash
# Runs a real program twice, plainly and under LD_PRELOAD=<libtcarena.so>,
# and fails unless both runs print the same output and exit the same way.
# usage: run.sh LIBRARY CASE [THREADED_PROGRAM]
# Exit 77 (skipped) when the case's program is not installed.
set -u
library=$1 case=$2 threaded=${3:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

need() {
    command -v "$1" >/dev/null || { echo "skipped: $1 not installed"; exit 77; }
}

# Deterministic input: 200000 lines of words and numbers.
make_text() {
    awk 'BEGIN { srand(42); for (i = 0; i < 200000; i++)
        printf "%s%d %d %s\n", substr("abcdefghijklmnopqrstuvwxyz", int(rand() * 26) + 1, 3),
               int(rand() * 100000), int(rand() * 1000), (i % 7 ? "x" : "yyyyyyyyyyyyyyyyyyyyyyyy") }' \
        > "$work/input.txt"
}

PYTHON_PROGRAM='
import json, collections
words = {}
for i in range(200000):
    key = "k%d" % (i * 7919 % 100003)
    words.setdefault(key, []).append(str(i) * (i % 13))
counts = collections.Counter(len(v) for v in words.values())
nested = [{"id": i, "tags": ["t%d" % j for j in range(i % 17)], "text": "x" * (i % 500)} for i in range(20000)]
blob = json.dumps(nested)
back = json.loads(blob)
joined = "".join(sorted(words)[:1000])
print(len(words), sorted(counts.items())[:10], len(blob), len(back), hash(joined) % 1000003)
print(sum(len(s) for v in words.values() for s in v))
'

run_case() {
    case $case in
    python3) need python3; PYTHONHASHSEED=0 python3 -c "$PYTHON_PROGRAM" ;;
    sort) make_text; sort "$work/input.txt" | sha256sum; sort -n -k2 "$work/input.txt" | tail -n 1000 ;;
    ls) ls -R /usr/share ;;
    find) find /usr/include ;;
    gzip) make_text; gzip -9 -n < "$work/input.txt" | tee "$work/input.gz" | gunzip | sha256sum
          sha256sum < "$work/input.gz" ;;
    pipeline) make_text; sh -c "cut -d' ' -f2 '$work/input.txt' | sort | uniq -c | sort -rn | head -n 50;
                                 tr a-z A-Z < '$work/input.txt' | grep -c YYY; sed 's/x\$/z/' '$work/input.txt' | wc" ;;
    threaded) "$threaded" ;;
    *) echo "unknown case $case"; exit 2 ;;
    esac
}

# The library must really be loaded into what runs, or the test proves nothing.
if ! LD_PRELOAD=$library cat /proc/self/maps | grep -q "$(basename "$library")"; then
    echo "LD_PRELOAD=$library did not load the library"
    exit 1
fi

(run_case) > "$work/plain.out" 2>&1
plain_status=$?
(export LD_PRELOAD=$library; run_case) > "$work/preloaded.out" 2>&1
preloaded_status=$?
[ $plain_status = 77 ] && exit 77
if [ $plain_status != $preloaded_status ] || ! cmp -s "$work/plain.out" "$work/preloaded.out"; then
    echo "$case: exit status $plain_status plainly, $preloaded_status under LD_PRELOAD=$library"
    diff "$work/plain.out" "$work/preloaded.out" | head -n 20
    exit 1
fi
echo "$case: same output ($(wc -l < "$work/plain.out") lines) and exit status $plain_status"
