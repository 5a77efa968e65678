#!/bin/sh
# The tcarena command as an operator uses it: help, run in each statistics
# format, stats FILE on good and damaged dumps, every bad invocation (one
# line on stderr, exit status 2, 126 or 127, never a shell or Python error),
# the warning for a program that cannot be preloaded, and an installed copy
# (meson install --destdir, then moved elsewhere) finding its own library.
# Arguments: the command, and the build directory to install from.
set -eu
tcarena=$1
build=${2:-}
command -v python3 >/dev/null || { echo "skipped: no python3"; exit 77; }
# The interpreter itself, not a wrapper script that starts it.
python=$(python3 -c 'import sys; print(sys.executable)')
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

# shellcheck source=command.sh
. "$(dirname "$0")/command.sh"

# Help: to stdout, status 0, for the command and each subcommand.
for args in --help -h help --version "help run" "help stats" "help top" "help bench" \
            "run --help" "run -h" "stats --help" "top --help" "bench --help"; do
    # shellcheck disable=SC2086 # the words are the arguments
    "$tcarena" $args >"$dir/out" 2>"$dir/err" || fail "tcarena $args: exit status $?"
    [ -s "$dir/out" ] && [ ! -s "$dir/err" ] || fail "tcarena $args: no help on stdout, or stderr"
done
"$tcarena" --help | grep -q "tcarena run"
"$tcarena" run --help | grep -q -- "--stats-file"

# Every bad invocation.
answers 2 "no command given"
answers 2 "unknown command 'frob' (try 'tcarena --help')" frob
answers 2 "unknown option '--bogus'" --bogus
answers 2 "unknown command 'frob'" help frob
answers 2 "no program given" run
answers 2 "unknown option '--bogus'" run --bogus -- true
answers 2 "unknown option '-x'" run -x true
answers 2 "text, json and prometheus" run --stats=xml -- true
answers 2 "'--stats-file' needs a value" run --stats-file
answers 2 "needs a path" run --stats-file= -- true
answers 2 "'--help' takes no value" run --help=yes
answers 2 "'narenas' is not KEY:VALUE" run --conf=narenas -- true
answers 2 "--profile= needs a path" run --profile= -- true
answers 2 "a path with ',' cannot go in TCARENA_CONF" run --profile=a,b -- true
answers 2 "'--leaks' takes no value" run --leaks=yes -- true
answers 127 "tcarena run: /nonexistent/program: No such file or directory" run --leaks -- /nonexistent/program
export TCARENA_LIBRARY="$dir/none"
answers 2 "TCARENA_LIBRARY=$dir/none: No such file or directory" run true
unset TCARENA_LIBRARY
answers 127 "tcarena run: /nonexistent/program: No such file or directory" run -- /nonexistent/program
answers 127 "tcarena run: tcarena-no-such-program: command not found" run tcarena-no-such-program
printf 'echo hi\n' >"$dir/not-executable"
answers 126 "Permission denied" run -- "$dir/not-executable"
answers 126 "Permission denied" run -- "$dir"
answers 2 "no file given" stats
answers 2 "unknown option '--bogus'" stats --bogus x
answers 2 "unexpected argument" stats a b
answers 2 "tcarena stats /nonexistent.json: No such file or directory" stats /nonexistent.json
answers 2 "Is a directory" stats "$dir"

# run --stats in each format; the JSON read back by python3 and by stats.
"$tcarena" run --stats=json -- "$python" -c 'x = [str(i) * 20 for i in range(200000)]; print(len(x))' \
    >"$dir/stdout" 2>"$dir/stats.json"
grep -qx 200000 "$dir/stdout"
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
"$tcarena" stats "$dir/stats.json" >"$dir/tables"
for section in "Totals" "Options" "Arenas" "Bins in use, arena 0"; do
    grep -qx "$section" "$dir/tables" || fail "stats: no $section table"
done
allocated=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tcarena"]["totals"]["allocated"])' "$dir/stats.json")
grep -qE "^ +allocated +$allocated " "$dir/tables" || fail "stats: allocated is not $allocated"
cat "$dir/stats.json" "$dir/stats.json" | "$tcarena" stats - | grep -c "^Totals" | grep -qx 2
"$tcarena" run --stats=prometheus --stats-file="$dir/stats.%p.prom" -- "$python" -c 'print("hi")' >/dev/null
grep -q "^# TYPE tcarena_allocated_bytes gauge$" "$dir"/stats.*.prom
"$tcarena" run --stats -- "$python" -c 'pass' 2>&1 | grep -q "^Totals (bytes)$"
"$tcarena" run --stats=json -- true 2>&1 | python3 -m json.tool >/dev/null
"$tcarena" run --stats=json --conf=narenas:3 -- true 2>&1 | grep -q '"narenas":3'
# Only the program prints, not the processes it starts...
child='import subprocess, sys; subprocess.run([sys.executable, "-c", "pass"])'
"$tcarena" run --stats=json -- "$python" -c "$child" 2>&1 | grep -c '"tcarena"' | grep -qx 1 ||
    fail "run --stats: the program's child printed too"
# ...unless each gets a file of its own.
mkdir "$dir/each"
"$tcarena" run --stats-file="$dir/each/%p" -- "$python" -c "$child"
[ "$(ls "$dir/each" | wc -l)" = 2 ] || fail "--stats-file with %p: not one file per process"

# Damaged dumps: the good part printed, then one line naming the bad byte.
size=$(wc -c <"$dir/stats.json")
head -c $((size / 2)) "$dir/stats.json" >"$dir/cut.json"
answers 2 "truncated" stats "$dir/cut.json"
grep -qx Totals "$dir/out" && grep -qx Arenas "$dir/out" || fail "stats on a cut dump: the good part is not printed"
sed 's/"allocated":[0-9]*/"allocated":"lots"/' "$dir/stats.json" >"$dir/bad.json"
answers 2 "(tcarena.totals.allocated): expected a number, found a string" stats "$dir/bad.json"
grep -qE "^ +active " "$dir/out" && grep -qx Arenas "$dir/out" || fail "stats on a bad value: the rest is not printed"
cat "$dir/stats.json" "$dir/cut.json" >"$dir/second-cut.json"
answers 2 "truncated" stats "$dir/second-cut.json"
[ "$(grep -c "^Bins in use" "$dir/out")" -ge 2 ] || fail "stats: the whole first dump is not printed"
printf '{"tcarena":1}\n' >"$dir/one.json"
answers 2 "byte 11 (tcarena): expected an object, found a number" stats "$dir/one.json"
printf '{"version":"1"}\n' >"$dir/other.json"
answers 2 'not a tcarena dump' stats "$dir/other.json"
answers 2 "byte 0: not a tcarena dump" stats "$dir/stdout"
printf 'hello\n' >"$dir/text"
answers 2 "byte 0: expected a value, found 'h'" stats "$dir/text"
: >"$dir/empty"
answers 2 "empty" stats "$dir/empty"
(cat "$dir/stats.json"; echo junk) >"$dir/junk.json"
answers 2 "expected a value, found 'j'" stats "$dir/junk.json"

# A reader that stops early (EPIPE) is no error, whether SIGPIPE kills the
# command or is ignored.
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do cat "$dir/stats.json"; done >"$dir/many.json"
"$tcarena" stats "$dir/many.json" 2>"$dir/err" | head -1 >/dev/null
[ ! -s "$dir/err" ] || fail "stats | head: $(cat "$dir/err")"
(trap '' PIPE; "$tcarena" stats "$dir/many.json" 2>"$dir/err" | head -1 >/dev/null)
[ ! -s "$dir/err" ] || fail "stats | head, SIGPIPE ignored: $(cat "$dir/err")"

# run execs the program: same process id, the library loaded, options after
# "--" (or after PROGRAM) are the program's.
[ "$(sh -c 'echo $$; exec "$1" run sh -c "echo \$\$"' sh "$tcarena" | uniq | wc -l)" = 1 ] ||
    fail "run: the program does not keep the process id"
"$tcarena" run cat /proc/self/maps | grep -q libtcarena || fail "run: the library is not loaded"
[ "$("$tcarena" run -- sh -c 'echo "$*"' sh --stats --bogus)" = "--stats --bogus" ] ||
    fail "run: options after -- are read"
[ "$("$tcarena" run sh -c 'echo "$*"' sh --stats)" = "--stats" ] || fail "run: options after PROGRAM are read"
LD_PRELOAD=libm.so.6 "$tcarena" run sh -c 'echo "$LD_PRELOAD"' | grep -q "libtcarena.*:libm.so.6$" ||
    fail "run: LD_PRELOAD is not kept"

# A program that cannot be preloaded: one warning line, and it still runs.
printf 'int main(void) { return 3; }\n' >"$dir/static.c"
if ${CC:-cc} -static -o "$dir/static" "$dir/static.c" 2>/dev/null; then
    answers 3 "statically linked" run "$dir/static"
else
    echo "static binary case skipped: ${CC:-cc} -static fails (no static libc: apt-get install libc6-dev)"
fi
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
    cp "$(command -v cat)" "$dir/setuid"
    chown nobody "$dir/setuid" && chmod 4755 "$dir/setuid"
    if findmnt -no OPTIONS -T "$dir" 2>/dev/null | grep -q nosuid; then
        echo "set-user-ID case skipped: $dir is on a nosuid mount"
    else
        answers 0 "set-user-ID" run "$dir/setuid" /dev/null
    fi
else
    echo "set-user-ID case skipped: needs root (to give a copy of cat to nobody)"
fi

# Installed with DESTDIR, and moved to another prefix: the command finds the
# library it was installed with, and says where it looked when it is gone.
if [ -z "$build" ] || ! command -v meson >/dev/null; then
    echo "install case skipped: no build directory given, or no meson"
    exit 0
fi
meson install -C "$build" --no-rebuild --destdir "$dir/dest" >/dev/null
installed=$(find "$dir/dest" -path '*/bin/tcarena')
"$installed" run cat /proc/self/maps | grep -q " $dir/dest/.*libtcarena" ||
    fail "installed with DESTDIR: $installed does not preload the library under $dir/dest"
mv "${installed%/bin/tcarena}" "$dir/moved"
"$dir/moved/bin/tcarena" run cat /proc/self/maps | grep -q " $dir/moved/.*libtcarena" ||
    fail "moved: the command does not preload the library under $dir/moved"
tcarena=$dir/moved/bin/tcarena
answers 2 "no benchmarks/run" bench
find "$dir/moved" -name libtcarena.so -delete
# Without it: status 2 naming where it looked, unless the configured libdir
# (outside $dir) has one; never a run without the allocator.
if "$tcarena" run cat /proc/self/maps >"$dir/maps" 2>"$dir/err"; then
    grep -q libtcarena "$dir/maps" || fail "run without a library ran the program anyway"
else
    answers 2 "libtcarena.so not found in $dir/moved/bin/" run cat /proc/self/maps
fi
