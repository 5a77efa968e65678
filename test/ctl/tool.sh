#!/bin/sh
# The tcarena command from the build tree: run --stats in each format, the
# JSON accepted by python3 -m json.tool with the totals' ordering, stats FILE.
set -eu
tcarena=$1
command -v python3 >/dev/null || { echo "skipped: no python3"; exit 77; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

"$tcarena" --help | grep -q "tcarena run"
"$tcarena" run --stats=json -- python3 -c 'x = [str(i) * 20 for i in range(200000)]; print(len(x))' \
    >"$dir/stdout" 2>"$dir/stats.json"
grep -qx 200000 "$dir/stdout"
python3 -m json.tool "$dir/stats.json" >/dev/null
python3 - "$dir/stats.json" <<'PYTHON'
import json, sys
d = json.load(open(sys.argv[1]))["tcarena"]
t = d["totals"]
assert t["allocated"] <= t["active"] <= t["resident"] <= t["mapped"], t
assert t["allocated"] > 0 and t["tcache_bytes"] <= t["allocated"], t
assert sum(a["allocated"] for a in d["arenas"]) == t["allocated"]
assert sum(a["active"] for a in d["arenas"]) == t["active"]
assert d["options"]["stats_format"] == "json"
PYTHON
"$tcarena" stats "$dir/stats.json" | grep -q "^Totals"
cat "$dir/stats.json" "$dir/stats.json" | "$tcarena" stats - | grep -c "^Totals" | grep -qx 2

# A file named with the process id, and the other two formats.
"$tcarena" run --stats=prometheus --stats-file="$dir/stats.%p.prom" -- python3 -c 'print("hi")' >/dev/null
grep -q "^# TYPE tcarena_allocated_bytes gauge$" "$dir"/stats.*.prom
"$tcarena" run --stats -- python3 -c 'pass' 2>&1 | grep -q "^Totals (bytes)$"
! "$tcarena" stats "$dir/stdout" 2>/dev/null
# A program that never allocates still gets its report.
"$tcarena" run --stats=json -- true 2>&1 | python3 -m json.tool >/dev/null
